from srdistill.cli import main

main()
