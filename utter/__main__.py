from utter.cli import main

# Guarded: CPU processes are spawned, and spawning imports the parent's main module.
if __name__ == "__main__":
    raise SystemExit(main())
