//! A contract fake of Dropbox for Business (API v2, team endpoints).
