//! Builds the web page's player libraries (web/vendor/, fetched by web/fetch-players.sh)
//! into the binary; where they were not fetched, empty files stand in and the player
//! page says how to get them.

use std::path::Path;

fn main() {
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    for name in ["hls.min.js", "dash.all.min.js"] {
        let from = Path::new("web/vendor").join(name);
        println!("cargo:rerun-if-changed={}", from.display());
        println!("cargo:rerun-if-changed=web/vendor/{name}.version");
        let to = Path::new(&out).join(name);
        let body = std::fs::read(&from).unwrap_or_default();
        std::fs::write(&to, body).expect("writing to OUT_DIR");
    }
}
