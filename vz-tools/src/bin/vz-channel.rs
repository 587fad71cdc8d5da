//! vz-channel: manage channels.

fn main() {}
