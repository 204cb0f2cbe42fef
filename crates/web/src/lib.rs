//! The single-page web app, embedded. `web/` is built by `scripts/web.sh`
//! into `web/dist`, which is compiled into release binaries (and read from
//! disk by debug builds). A server built without it still runs; the page
//! then says how to build it.

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/dist"]
#[allow_missing = true]
struct Dist;

/// A file of the web app.
pub struct Asset {
    pub bytes: std::borrow::Cow<'static, [u8]>,
    pub mime: String,
    /// Hashed file names under `assets/` never change: cache them forever.
    pub immutable: bool,
}

pub fn get(path: &str) -> Option<Asset> {
    let path = path.trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    let file = Dist::get(path)?;
    Some(Asset {
        mime: file.metadata.mimetype().to_owned(),
        bytes: file.data,
        immutable: path.starts_with("assets/"),
    })
}

/// Shown when the server was built without the web app.
pub const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>AiCockpit</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\">\
<h1>AiCockpit</h1><p>The web app was not built into this server. Build it with \
<code>scripts/web.sh</code> (or run <code>scripts/run</code>, which does) and restart; \
the API at <code>/api/v1</code> works meanwhile.</p>";
