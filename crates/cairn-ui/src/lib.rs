//! The web UI's files, embedded at build time (see `build.rs`): the page
//! at `/` and `/ui/`, and its hashed assets under `/ui/assets/`.

use include_dir::{include_dir, Dir};

static UI: Dir<'static> = include_dir!("$CAIRN_UI_EMBED");

/// Whether the real UI was embedded (not the page saying how to build it).
pub const BUILT: bool = !cfg!(ui_not_built);

/// One embedded file.
pub struct File {
    pub bytes: &'static [u8],
    pub content_type: String,
    /// Named by its content's hash: cacheable for ever.
    pub immutable: bool,
}

/// The file at `path` (relative to `/ui/`), if there is one.
pub fn file(path: &str) -> Option<File> {
    let path = path.trim_start_matches('/');
    if path.is_empty() || path.contains("..") {
        return None;
    }
    let f = UI.get_file(path)?;
    Some(File {
        bytes: f.contents(),
        content_type: mime_guess::from_path(path)
            .first_or_octet_stream()
            .essence_str()
            .to_string(),
        immutable: path.starts_with("assets/"),
    })
}

/// The page itself (every UI route answers it; the page routes itself).
pub fn index() -> &'static [u8] {
    UI.get_file("index.html")
        .map(|f| f.contents())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_and_its_assets_are_embedded_and_nothing_else_is_reachable() {
        assert!(!super::index().is_empty());
        assert!(super::file("../Cargo.toml").is_none());
        assert!(super::file("").is_none());
        if super::BUILT {
            let page = std::str::from_utf8(super::index()).unwrap();
            let script = page
                .split("src=\"/ui/")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .expect("the page loads its script from /ui/");
            let f = super::file(script).expect("the script is embedded");
            assert_eq!(f.content_type, "text/javascript");
            assert!(f.immutable);
        }
    }
}
