from mycli.main import main

main()
