//! push-server daemon (see issue 3).

fn main() {}
