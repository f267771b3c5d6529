from headon.cli import main

main()
