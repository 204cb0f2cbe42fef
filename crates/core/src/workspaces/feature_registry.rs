//! Fetching a devcontainer feature from an OCI registry, as the features
//! distribution spec publishes them: the manifest of
//! `registry/namespace/id:tag`, its one layer of media type
//! `application/vnd.devcontainers.layer.v1+tar`, checked against the
//! manifest's digest and unpacked into files for the build context.
//!
//! The repository names the registry, so the server only asks the ones an
//! admin listed (`workspaces.feature_registries`), and follows a token
//! realm only on the same host: a configuration cannot point the server at
//! an address of the network it sits in. Everything read is bounded
//! (manifest, token, layer, unpacked files) before it is parsed, and the
//! whole fetch has a deadline.

use crate::devcontainer::features::OciRef;
use aicockpit_runtime::ContextFile;
use futures_util::StreamExt;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;
use std::time::Duration;

/// The layer of a feature, as the spec names its media type.
const LAYER_TYPE: &str = "application/vnd.devcontainers.layer.v1+tar";
const MANIFEST_TYPES: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
/// The largest manifest or token answer read.
const MAX_SMALL: usize = 256 * 1024;
/// The most bytes of layers fetched for one configuration, all its
/// features together (official features are a few KiB each).
pub(super) const MAX_LAYERS: u64 = 32 * 1024 * 1024;
/// Files one feature may hold.
const MAX_FILES: usize = 512;
/// The whole fetch of one feature.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

/// One feature as fetched: its description and its files, named under
/// `folder` for the build context.
#[derive(Debug)]
pub(super) struct Fetched {
    pub json: String,
    pub files: Vec<ContextFile>,
}

fn client() -> Result<&'static reqwest::Client, String> {
    static CLIENT: OnceLock<Result<reqwest::Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .connect_timeout(Duration::from_secs(10))
                // Registries send blobs to their storage (ghcr.io to a
                // CDN): followed to a named host over https only — never to
                // an address or localhost, which would let a registry aim
                // the server at its own network; reqwest drops the token
                // when the host changes.
                .redirect(reqwest::redirect::Policy::custom(|a| {
                    if a.previous().len() >= 5 {
                        a.error("too many redirects")
                    } else if !named_https(a.url()) {
                        a.error("a redirect to somewhere other than a named https host")
                    } else {
                        a.follow()
                    }
                }))
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// An https URL whose host is a name, other than localhost's.
fn named_https(url: &reqwest::Url) -> bool {
    let named = match url.host() {
        Some(url::Host::Domain(h)) => {
            let h = h.to_ascii_lowercase();
            h != "localhost" && !h.ends_with(".localhost")
        }
        _ => false,
    };
    url.scheme() == "https" && named
}

fn is_localhost(host: Option<&str>) -> bool {
    host.is_some_and(|h| h.eq_ignore_ascii_case("localhost"))
}

/// `http` for `localhost` (the reference CLI's rule, for a registry on the
/// machine), `https` for every other registry.
fn base_url(r: &OciRef) -> String {
    let host = r.registry.split(':').next();
    let scheme = if is_localhost(host) { "http" } else { "https" };
    format!("{scheme}://{}/v2/{}", r.registry, r.repository)
}

/// Fetches `r` if its registry is one of `allowed`; the error is the
/// message the user sees.
pub(super) async fn fetch(
    r: &OciRef,
    allowed: &[String],
    folder: &str,
    budget: Budget,
) -> Result<Fetched, String> {
    if !allowed.iter().any(|a| a.eq_ignore_ascii_case(&r.registry)) {
        return Err(format!(
            "the registry {} is not one this server fetches features from (an admin may list it in workspaces.feature_registries); copy the feature into .devcontainer and name it \"./folder\"",
            r.registry,
        ));
    }
    let deadline = budget
        .deadline
        .min(tokio::time::Instant::now() + FETCH_TIMEOUT);
    tokio::time::timeout_at(deadline, fetch_allowed(r, folder, budget.bytes))
        .await
        .unwrap_or_else(|_| Err(format!("{} did not answer in time", r.registry)))
}

/// What one fetch may still take: at most `bytes` of layer, until
/// `deadline` (the configuration's features share both).
#[derive(Debug, Clone, Copy)]
pub(super) struct Budget {
    pub bytes: u64,
    pub deadline: tokio::time::Instant,
}

async fn fetch_allowed(r: &OciRef, folder: &str, max_bytes: u64) -> Result<Fetched, String> {
    let http = client()?;
    let base = base_url(r);
    let unreachable = |e: reqwest::Error| {
        format!(
            "the registry {} could not be reached: {}",
            r.registry,
            root_cause(&e)
        )
    };
    let manifest_url = format!("{base}/manifests/{}", r.reference);
    let mut token = None;
    let mut resp = http
        .get(&manifest_url)
        .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
        .send()
        .await
        .map_err(unreachable)?;
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        token = Some(anonymous_token(http, r, &challenge).await?);
        resp = http
            .get(&manifest_url)
            .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
            .bearer_auth(token.as_deref().unwrap_or_default())
            .send()
            .await
            .map_err(unreachable)?;
    }
    if !resp.status().is_success() {
        return Err(match resp.status().as_u16() {
            401 | 403 => {
                "the registry refused anonymous access (private features are not supported)".into()
            }
            404 => "no such feature or version in the registry".into(),
            s => format!("the registry answered {s}"),
        });
    }
    let manifest: Value = serde_json::from_slice(
        &read_capped(resp, MAX_SMALL)
            .await
            .map_err(|e| format!("the manifest: {e}"))?,
    )
    .map_err(|e| format!("the manifest is not JSON: {e}"))?;
    let (digest, size) = feature_layer(&manifest, max_bytes)?;
    let mut blob = http.get(format!("{base}/blobs/{digest}"));
    if let Some(t) = &token {
        blob = blob.bearer_auth(t);
    }
    let resp = blob.send().await.map_err(unreachable)?;
    if !resp.status().is_success() {
        return Err(format!(
            "fetching its layer, the registry answered {}",
            resp.status().as_u16()
        ));
    }
    let layer = read_capped(resp, size as usize)
        .await
        .map_err(|e| format!("its layer: {e}"))?;
    let got = hex(&Sha256::digest(&layer));
    if digest != format!("sha256:{got}") {
        return Err("its layer does not match the manifest's digest".into());
    }
    unpack(&layer, folder)
}

/// The innermost reason of a transport error (reqwest's own says only
/// "error sending request").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The feature's layer in a manifest: (digest, size), the size bounded.
fn feature_layer(manifest: &Value, max: u64) -> Result<(String, u64), String> {
    let layers = manifest
        .get("layers")
        .and_then(Value::as_array)
        .ok_or("the manifest has no layers (is it a feature?)")?;
    let layer = layers
        .iter()
        .find(|l| l.get("mediaType").and_then(Value::as_str) == Some(LAYER_TYPE))
        .ok_or_else(|| {
            format!("the manifest has no layer of type {LAYER_TYPE} (is it a feature?)")
        })?;
    let digest = layer
        .get("digest")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let hex_ok = digest.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    if !hex_ok {
        return Err("the layer's digest is not sha256".into());
    }
    let size = layer
        .get("size")
        .and_then(Value::as_u64)
        .ok_or("the layer has no size")?;
    if size > max {
        return Err(format!(
            "the layer is {size} bytes, over the {max} this server still fetches for this configuration (at most {MAX_LAYERS} for all its features)"
        ));
    }
    Ok((digest.to_owned(), size))
}

/// A registry's anonymous token for pulling `r`, from the realm its
/// challenge names — on the registry's own host only.
async fn anonymous_token(
    http: &reqwest::Client,
    r: &OciRef,
    challenge: &str,
) -> Result<String, String> {
    let params = bearer_params(challenge).ok_or_else(|| {
        format!("the registry asked for a login this server cannot give ({challenge:.100})")
    })?;
    let realm = params
        .iter()
        .find(|(k, _)| k == "realm")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let mut url = reqwest::Url::parse(realm)
        .map_err(|_| "the registry's token realm is not a URL".to_owned())?;
    // Only where the manifest was asked: same scheme, host and port.
    let asked = reqwest::Url::parse(&base_url(r)).map_err(|e| e.to_string())?;
    let same = url.scheme() == asked.scheme()
        && url.host_str().is_some()
        && url.host_str() == asked.host_str()
        && url.port_or_known_default() == asked.port_or_known_default();
    if !same {
        return Err(format!(
            "the registry sends logins to {}, not to itself; not followed",
            url.origin().ascii_serialization()
        ));
    }
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in &params {
            if k == "service" || k == "scope" {
                q.append_pair(k, v);
            }
        }
        if !params.iter().any(|(k, _)| k == "scope") {
            q.append_pair("scope", &format!("repository:{}:pull", r.repository));
        }
    }
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| format!("the registry's token: {}", root_cause(&e)))?;
    if !resp.status().is_success() {
        return Err(format!(
            "the registry refused an anonymous token ({})",
            resp.status().as_u16()
        ));
    }
    let body: Value = serde_json::from_slice(&read_capped(resp, MAX_SMALL).await?)
        .map_err(|e| format!("the token answer: {e}"))?;
    body.get("token")
        .or_else(|| body.get("access_token"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() < 16 * 1024 && t.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .ok_or_else(|| "the registry's token answer has no token".to_owned())
}

/// `Bearer k="v",k2="v2"` (RFC 6750 challenge parameters, quoted or
/// token values); `None` when the scheme is not Bearer or it does not read.
fn bearer_params(challenge: &str) -> Option<Vec<(String, String)>> {
    let (scheme, rest) = challenge.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") || rest.len() > 4096 {
        return None;
    }
    let mut out = Vec::new();
    let mut s = rest.trim_start();
    while !s.is_empty() {
        let (key, after) = s.split_once('=')?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(q) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next()?.1),
                    '"' => {
                        end = Some(i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &q[end?..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        out.push((key, value));
        s = tail.trim_start();
        s = s.strip_prefix(',').unwrap_or(s).trim_start();
    }
    Some(out)
}

/// The body, refused past `cap` bytes (before it is all read).
async fn read_capped(resp: reqwest::Response, cap: usize) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > cap as u64) {
        return Err(format!("larger than {cap} bytes"));
    }
    let mut out = Vec::new();
    let mut body = resp.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| root_cause(&e))?;
        if out.len() + chunk.len() > cap {
            return Err(format!("larger than {cap} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The layer's files under `folder` (plain relative paths; directories are
/// implied, links and devices are dropped), with its
/// `devcontainer-feature.json`.
fn unpack(layer: &[u8], folder: &str) -> Result<Fetched, String> {
    let mut archive = tar::Archive::new(layer);
    let mut files = Vec::new();
    let mut json = None;
    for entry in archive
        .entries()
        .map_err(|e| format!("its layer is not a tar: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("its layer is not a tar: {e}"))?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let mut parts = Vec::new();
        for c in path.components() {
            match c {
                std::path::Component::Normal(p) => {
                    parts.push(p.to_str().ok_or("a file name is not UTF-8")?.to_owned())
                }
                std::path::Component::CurDir => {}
                _ => {
                    return Err(format!(
                        "its layer has a path outside it: {:.200?}",
                        path.display().to_string()
                    ))
                }
            }
        }
        if parts.is_empty() {
            continue;
        }
        if files.len() == MAX_FILES {
            return Err(format!("its layer has more than {MAX_FILES} files"));
        }
        let rel = parts.join("/");
        let executable = entry.header().mode().unwrap_or(0) & 0o111 != 0;
        let mut content = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut content).map_err(|e| e.to_string())?;
        if rel == "devcontainer-feature.json" {
            if content.len() as u64 > crate::devcontainer::features::MAX_FEATURE_JSON {
                return Err("its devcontainer-feature.json is larger than 64 KiB".into());
            }
            json = Some(
                String::from_utf8(content.clone())
                    .map_err(|_| "devcontainer-feature.json is not UTF-8")?,
            );
        }
        files.push(ContextFile {
            name: format!("{folder}/{rel}"),
            content,
            executable,
        });
    }
    let json = json.ok_or("its layer has no devcontainer-feature.json")?;
    if !files
        .iter()
        .any(|f| f.name == format!("{folder}/install.sh"))
    {
        return Err("its layer has no install.sh".into());
    }
    Ok(Fetched { json, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_challenges_are_read_or_refused() {
        let got = bearer_params(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:devcontainers/features/node:pull""#).expect("read");
        assert_eq!(
            got,
            [
                ("realm".to_owned(), "https://ghcr.io/token".to_owned()),
                ("service".to_owned(), "ghcr.io".to_owned()),
                (
                    "scope".to_owned(),
                    "repository:devcontainers/features/node:pull".to_owned()
                ),
            ]
        );
        assert_eq!(
            bearer_params(r#"bearer realm="a\"b", x=y"#).expect("read"),
            [
                ("realm".to_owned(), "a\"b".to_owned()),
                ("x".to_owned(), "y".to_owned())
            ]
        );
        for bad in [
            "Basic realm=\"x\"",
            "Bearer",
            "Bearer realm=\"unterminated",
            "Bearer novalue",
        ] {
            assert_eq!(bearer_params(bad), None, "{bad}");
        }
    }

    fn tar_of(entries: &[(&str, &[u8], u32)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data, mode) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(*mode);
            h.set_entry_type(tar::EntryType::Regular);
            // Written raw: the tar crate refuses `..` in set_path itself.
            let field = &mut h.as_old_mut().name;
            field[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).expect("append");
        }
        b.into_inner().expect("tar")
    }

    /// Layers as a registry (or someone in its place) may send them.
    #[test]
    fn hostile_layers_table() {
        let ok = tar_of(&[
            ("./devcontainer-feature.json", b"{\"id\":\"x\"}", 0o644),
            ("./install.sh", b"echo", 0o755),
            ("./lib/x.sh", b"", 0o644),
        ]);
        let f = unpack(&ok, ".f0").expect("unpacks");
        assert_eq!(
            f.files
                .iter()
                .map(|f| (f.name.as_str(), f.executable))
                .collect::<Vec<_>>(),
            [
                (".f0/devcontainer-feature.json", false),
                (".f0/install.sh", true),
                (".f0/lib/x.sh", false)
            ]
        );
        let table: Vec<(Vec<u8>, &str)> = vec![
            (tar_of(&[("../etc/passwd", b"x", 0o644)]), "outside"),
            (tar_of(&[("/etc/passwd", b"x", 0o644)]), "outside"),
            (
                tar_of(&[("install.sh", b"x", 0o755)]),
                "no devcontainer-feature.json",
            ),
            (
                tar_of(&[("devcontainer-feature.json", b"{}", 0o644)]),
                "no install.sh",
            ),
            (
                tar_of(&[("devcontainer-feature.json", b"\xff", 0o644)]),
                "not UTF-8",
            ),
            (
                tar_of(&[("devcontainer-feature.json", &[b' '; 65 * 1024], 0o644)]),
                "larger than 64 KiB",
            ),
            (
                b"not a tar at all, but long enough to be read as a header block......".repeat(10),
                "tar",
            ),
        ];
        for (layer, want) in table {
            let e = unpack(&layer, ".f0").expect_err(want);
            assert!(e.contains(want), "{want}: {e}");
        }
        let many: Vec<(String, Vec<u8>)> = (0..=MAX_FILES)
            .map(|i| (format!("f{i}"), Vec::new()))
            .collect();
        let refs: Vec<(&str, &[u8], u32)> = many
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice(), 0o644))
            .collect();
        assert!(unpack(&tar_of(&refs), ".f0")
            .expect_err("many")
            .contains("more than"));
    }

    #[test]
    fn manifests_name_one_bounded_feature_layer() {
        let d = format!("sha256:{}", "0".repeat(64));
        let m = |t: &str, digest: &str, size: u64| serde_json::json!({"layers": [{"mediaType": t, "digest": digest, "size": size}]});
        assert_eq!(
            feature_layer(&m(LAYER_TYPE, &d, 10), 10),
            Ok((d.clone(), 10))
        );
        assert!(feature_layer(
            &m("application/vnd.oci.image.layer.v1.tar+gzip", &d, 10),
            10
        )
        .is_err());
        assert!(feature_layer(&m(LAYER_TYPE, "md5:00", 10), 10).is_err());
        assert!(feature_layer(&m(LAYER_TYPE, &d, 11), 10).is_err());
        assert!(feature_layer(&serde_json::json!({"manifests": []}), 10).is_err());
    }

    #[tokio::test]
    async fn only_listed_registries_are_asked() {
        let r = OciRef::parse("169.254.169.254/latest/meta-data:1").expect("a reference");
        let budget = Budget {
            bytes: 1024,
            deadline: tokio::time::Instant::now() + Duration::from_secs(5),
        };
        let e = fetch(&r, &["ghcr.io".into()], ".f0", budget)
            .await
            .expect_err("not listed");
        assert!(
            e.contains("not one this server fetches features from"),
            "{e}"
        );
        assert!(!e.contains("ghcr.io"), "the list is not shown: {e}");
        let e = fetch(&r, &[], ".f0", budget)
            .await
            .expect_err("none listed");
        assert!(e.contains("not one this server fetches"), "{e}");
    }

    #[test]
    fn redirects_go_to_named_https_hosts_only() {
        for (to, ok) in [
            ("https://pkg-containers.githubusercontent.com/x", true),
            ("http://pkg-containers.githubusercontent.com/x", false),
            ("https://10.0.0.1/x", false),
            ("https://[::1]/x", false),
            ("https://localhost/x", false),
            ("https://a.localhost:2375/x", false),
            ("http://localhost:2375/x", false),
        ] {
            let url = reqwest::Url::parse(to).expect("a URL");
            assert_eq!(named_https(&url), ok, "{to}");
        }
    }
}
