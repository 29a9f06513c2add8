from promptvc.cli import main

main()
