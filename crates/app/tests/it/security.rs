//! Security behaviours (filled in later).
