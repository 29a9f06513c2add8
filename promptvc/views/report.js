// The filters of `promptvc report`: they only hide what the page already shows.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var bar = document.getElementById("filters");
  var bySet = document.getElementById("filter-set");
  var byStatus = document.getElementById("filter-status");
  var shown = document.getElementById("filter-count");
  if (!bar || !bySet || !byStatus) {
    return;
  }
  bar.hidden = false;

  function has(element, word) {
    return (" " + (element.getAttribute("data-statuses") || "") + " ").indexOf(" " + word + " ") >= 0;
  }

  function apply() {
    var set = bySet.value;
    var status = byStatus.value;
    var sections = document.querySelectorAll("section.set");
    var visible = 0;
    for (var i = 0; i < sections.length; i++) {
      var section = sections[i];
      var items = section.querySelectorAll(".item");
      var matching = 0;
      for (var j = 0; j < items.length; j++) {
        var keep = !status || has(items[j], status);
        items[j].hidden = !keep;
        matching += keep ? 1 : 0;
      }
      var show = (!set || section.getAttribute("data-set") === set) &&
        (!status || has(section, status) || matching > 0);
      section.hidden = !show;
      var table = section.querySelector("details.cases");
      if (table && status && matching > 0) {
        table.open = true; // the cases a status was chosen for are shown, not folded away
      }
      visible += show ? 1 : 0;
    }
    shown.textContent = visible + " of " + sections.length + " sets shown";
  }

  // `report.html#status=regressed&set=support-answer` opens filtered: a link can point at the flips.
  var wanted = new URLSearchParams(location.hash.slice(1));
  choose(bySet, wanted.get("set"));
  choose(byStatus, wanted.get("status"));

  function choose(select, value) {
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === value) {
        select.value = value;
      }
    }
  }
  bySet.addEventListener("change", apply);
  byStatus.addEventListener("change", apply);
  apply();
})();
