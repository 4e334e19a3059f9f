print("schedbench")
