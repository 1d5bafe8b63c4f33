//! Embeds the web UI that `scripts/build-ui.sh` built into `ui/dist`. When
//! it has not been built, a page that says how to build it is embedded
//! instead, so that the server builds (and serves everything else) on a
//! machine without Node.js.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let dist = manifest.join("../../ui/dist");
    // Vite rewrites index.html on every build (it names the hashed assets);
    // before the first build, the ui/ directory gets dist/ created in it.
    if dist.join("index.html").is_file() {
        println!(
            "cargo:rerun-if-changed={}",
            dist.join("index.html").display()
        );
    } else {
        println!(
            "cargo:rerun-if-changed={}",
            manifest.join("../../ui").display()
        );
    }
    println!("cargo:rerun-if-env-changed=CAIRN_UI_DIST");
    let chosen = if let Ok(dir) = std::env::var("CAIRN_UI_DIST") {
        PathBuf::from(dir)
    } else if dist.join("index.html").is_file() {
        dist.canonicalize().unwrap()
    } else {
        let placeholder = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("ui-not-built");
        std::fs::create_dir_all(&placeholder).unwrap();
        std::fs::write(
            placeholder.join("index.html"),
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>cairn</title></head>\
             <body><main><h1>cairn</h1><p>This cairn was built without its web UI. Build it with \
             <code>scripts/build-ui.sh</code> (Node.js and npm), then rebuild cairn. The registry \
             and its API (<code>/api/v1</code>) work without it.</p></main></body></html>\n",
        )
        .unwrap();
        println!("cargo:rustc-cfg=ui_not_built");
        placeholder
    };
    println!("cargo:rustc-check-cfg=cfg(ui_not_built)");
    println!("cargo:rustc-env=CAIRN_UI_EMBED={}", chosen.display());
}
