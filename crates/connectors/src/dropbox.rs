//! The Dropbox for Business connector (API v2, team endpoints).
