//! Runnable examples live in `src/bin`; this library is intentionally empty.
