from loadtest.runner import main

main()
