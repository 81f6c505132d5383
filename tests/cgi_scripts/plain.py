print("Content-Type: text/plain")
print()
print("run by the interpreter, no exec bit")
