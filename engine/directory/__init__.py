"""The directory: people, groups and applications, their import, passwords, sign-in and tokens."""
