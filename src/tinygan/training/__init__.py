"""Training: one run in compiled chunks with its history and frames (`loop`), how a run stops (`stopping`),
many seeds in one vmapped program (`seeds`), and the trained generator alone in a file (`export`)."""
