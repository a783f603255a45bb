from payrelay.cli import main

main()
