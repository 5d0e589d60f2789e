print("mixtera")
