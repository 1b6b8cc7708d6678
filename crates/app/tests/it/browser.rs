//! Browser test (filled in later).
