from harness.launch import run

run()
