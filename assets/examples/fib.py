def fib(n):
    if n < 2:
        return n
    return 


if __name__ == "__main__":
    print(fib(10))
