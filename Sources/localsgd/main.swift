print("localsgd")
