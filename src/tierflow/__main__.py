from tierflow.delivery.cli.app import main

main()
