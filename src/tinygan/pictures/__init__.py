"""Pictures: 1-D distributions, losses, metrics and animations (`plots`), 2-D pictures (`two_d`), corner plots
of tables (`table`), a sweep's pictures (`sweep`), a run's pictures (`run`), and their words (`labels`)."""
