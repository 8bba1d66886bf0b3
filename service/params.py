"""Bounds of request parameters shared by the routers: ids within the database's integer range, text without
NUL, a length limit on every string, so bad input is a 422 in the one error body and never reaches the
database (where an id past PostgreSQL's INTEGER or a NUL in a LIKE pattern was a 500)."""

MAX_ID = 2**31 - 1  # PostgreSQL INTEGER, the type of every id column (SQLite's range is wider)
NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL
MAX_TEXT = 200  # a search text
MAX_NAME = 64  # an instrument name
MAX_SOURCE = 1024  # a folder below the catalogue directory
MAX_LIST = 1000  # entries of a repeated form field (exclude_song)
