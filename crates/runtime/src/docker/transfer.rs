//! Moving snapshots between servers: a snapshot's image and data written
//! to files (the engine's own image archive, and an archive of the data),
//! and made again from such files. Files, not memory: both can be large.
//!
//! An image archive from elsewhere names its own tags, and loading it
//! as is could replace any image on the engine (a template's among them);
//! so it is rewritten first to carry exactly one tag, the new snapshot's,
//! and nothing else that names an image.

use super::kept::Side;
use super::snapshots::{snapshot_image, snapshot_volume, HELD_AT};
use super::DockerRuntime;
use crate::RuntimeError;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, ImportImageOptionsBuilder, UploadToContainerOptionsBuilder,
};
use futures_util::{Stream, StreamExt};
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

/// The most a manifest may take (it lists an image's layers).
const MAX_MANIFEST: u64 = 1024 * 1024;

impl DockerRuntime {
    /// Writes the snapshot's image (the engine's archive format) to
    /// `image_out` and its data (a tar of its content) to `data_out`.
    pub(super) async fn write_snapshot(
        &self,
        snapshot: &str,
        user: &str,
        image_out: &Path,
        data_out: &Path,
    ) -> Result<(), RuntimeError> {
        let d = self.client().await?;
        let image = snapshot_image(snapshot);
        d.inspect_image(&image).await?;
        to_file(d.export_image(&image), image_out).await?;
        let side = Side {
            volume: snapshot_volume(snapshot),
            image: &image,
            user,
            at: HELD_AT,
        };
        let holder = self.holder(&side).await?;
        let opts = DownloadFromContainerOptionsBuilder::default()
            .path(&format!("{HELD_AT}/."))
            .build();
        let written = to_file(d.download_from_container(&holder, Some(opts)), data_out).await;
        self.remove_holder(&holder).await?;
        written
    }

    /// Makes snapshot `snapshot` from an image archive and a data archive
    /// (as [`write_snapshot`](Self::write_snapshot) writes them); returns
    /// its image. On error nothing is left.
    pub(super) async fn read_snapshot(
        &self,
        snapshot: &str,
        user: &str,
        image_tar: &Path,
        data_tar: &Path,
    ) -> Result<String, RuntimeError> {
        let image = snapshot_image(snapshot);
        let retagged = image_tar.with_extension("retagged");
        let (from, to, tag) = (image_tar.to_owned(), retagged.clone(), image.clone());
        tokio::task::spawn_blocking(move || retag(&from, &to, &tag))
            .await
            .map_err(|e| RuntimeError::Engine(format!("retagging stopped: {e}")))??;
        let made = async {
            self.load_image(&retagged).await?;
            let labels = self.own_labels(&[("snapshot", snapshot)]);
            self.ensure_volume(&snapshot_volume(snapshot), &labels)
                .await?;
            let side = Side {
                volume: snapshot_volume(snapshot),
                image: &image,
                user,
                at: HELD_AT,
            };
            let holder = self.holder(&side).await?;
            let uploaded = self.upload_file(&holder, HELD_AT, data_tar).await;
            self.remove_holder(&holder).await?;
            uploaded
        }
        .await;
        let _ = tokio::fs::remove_file(&retagged).await;
        if let Err(e) = made {
            // The image was loaded under this tag just now: it is ours
            // whatever labels it carries.
            let d = self.client().await?;
            let opts = bollard::query_parameters::RemoveImageOptionsBuilder::default()
                .force(true)
                .build();
            let _ = d.remove_image(&image, Some(opts), None).await;
            let _ = self.remove_volume(&snapshot_volume(snapshot)).await;
            return Err(e);
        }
        Ok(image)
    }

    async fn load_image(&self, archive: &Path) -> Result<(), RuntimeError> {
        let file = tokio::fs::File::open(archive).await?;
        let opts = ImportImageOptionsBuilder::default().quiet(true).build();
        let d = self.client().await?;
        let mut progress = d.import_image_stream(opts, ReaderStream::new(file), None);
        while let Some(item) = progress.next().await {
            let info = item?;
            if let Some(e) = info.error_detail.and_then(|e| e.message) {
                return Err(RuntimeError::Invalid(format!(
                    "the image archive was refused: {e}"
                )));
            }
        }
        Ok(())
    }

    async fn upload_file(
        &self,
        container: &str,
        dir: &str,
        tar: &Path,
    ) -> Result<(), RuntimeError> {
        let file = tokio::fs::File::open(tar).await?;
        let opts = UploadToContainerOptionsBuilder::default()
            .path(dir)
            .copy_uidgid("false")
            .build();
        let body = bollard::body_try_stream(ReaderStream::new(file));
        self.client()
            .await?
            .upload_to_container(container, Some(opts), body)
            .await?;
        Ok(())
    }
}

async fn to_file<E>(
    mut stream: impl Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    out: &Path,
) -> Result<(), RuntimeError>
where
    RuntimeError: From<E>,
{
    let mut file = tokio::fs::File::create(out).await?;
    while let Some(chunk) = stream.next().await {
        file.write_all(&chunk?).await?;
    }
    file.flush().await?;
    Ok(())
}

/// Rebuilds the image archive `from` as `to`: the manifest of exactly one
/// image tagged `tag`, and only the files that manifest names (its config
/// and layers), each a regular file under a fresh header. Nothing else of
/// the input reaches the engine: no other manifest, `repositories` or
/// OCI `index.json`, no links or devices, no header the engine's tar reader
/// could read differently from this one (sizes, names, types). Extension
/// records (long names, PAX) over 64 KiB are refused before tar-rs would
/// buffer them.
fn retag(from: &Path, to: &Path, tag: &str) -> Result<(), RuntimeError> {
    let invalid = |m: String| RuntimeError::Invalid(format!("not an image archive: {m}"));
    check_extensions(from).map_err(invalid)?;
    // The manifest first (it may come last), then the files it names.
    let mut manifest = None;
    let mut archive = tar::Archive::new(std::fs::File::open(from)?);
    for entry in archive.entries().map_err(|e| invalid(e.to_string()))? {
        let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
        let path = clean(&entry.path().map_err(|e| invalid(e.to_string()))?).map_err(invalid)?;
        if path != Path::new("manifest.json") {
            continue;
        }
        if manifest.is_some() {
            return Err(invalid("more than one manifest.json".into()));
        }
        if !entry.header().entry_type().is_file() || entry.size() > MAX_MANIFEST {
            return Err(invalid("manifest.json is not a small regular file".into()));
        }
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut text)?;
        manifest = Some(manifest_for(&text, tag).map_err(invalid)?);
    }
    let Some((rewritten, wanted)) = manifest else {
        return Err(invalid("no manifest.json".into()));
    };
    let mut wanted: std::collections::HashSet<PathBuf> = wanted
        .iter()
        .map(|p| clean(Path::new(p)))
        .collect::<Result<_, _>>()
        .map_err(invalid)?;
    let mut out = tar::Builder::new(std::fs::File::create(to)?);
    let mut archive = tar::Archive::new(std::fs::File::open(from)?);
    for entry in archive.entries().map_err(|e| invalid(e.to_string()))? {
        let mut entry = entry.map_err(|e| invalid(e.to_string()))?;
        let path = clean(&entry.path().map_err(|e| invalid(e.to_string()))?).map_err(invalid)?;
        if !entry.header().entry_type().is_file() || !wanted.remove(&path) {
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(entry.size());
        header.set_mode(0o644);
        header.set_mtime(0);
        out.append_data(&mut header, &path, &mut entry)?;
    }
    if let Some(missing) = wanted.iter().next() {
        return Err(invalid(format!(
            "{} is named but missing",
            missing.display()
        )));
    }
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(rewritten.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    out.append_data(&mut header, "manifest.json", rewritten.as_slice())?;
    out.into_inner()?.sync_all()?;
    Ok(())
}

/// Refuses extension records (GNU long names and links, PAX headers) over
/// 64 KiB, read raw so that tar-rs never buffers one.
fn check_extensions(archive: &Path) -> Result<(), String> {
    const MAX_EXTENSION: u64 = 64 * 1024;
    let file = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut archive = tar::Archive::new(file);
    let entries = archive.entries().map_err(|e| e.to_string())?.raw(true);
    for entry in entries {
        let entry = entry.map_err(|e| e.to_string())?;
        let t = entry.header().entry_type();
        let extension = t.is_gnu_longname()
            || t.is_gnu_longlink()
            || t.is_pax_global_extensions()
            || t.is_pax_local_extensions();
        if extension && entry.size() > MAX_EXTENSION {
            return Err(format!("an extension record of {} bytes", entry.size()));
        }
    }
    Ok(())
}

/// A relative path of plain names (`.` dropped); absolute paths and `..`
/// are refused.
fn clean(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::CurDir => {}
            _ => return Err(format!("{}: not a plain relative path", path.display())),
        }
    }
    if out.as_os_str().is_empty() {
        return Err("an empty path".into());
    }
    Ok(out)
}

/// The manifest of exactly one image, with `tag` as its only tag, and the
/// files it names (its config and layers).
fn manifest_for(text: &[u8], tag: &str) -> Result<(Vec<u8>, Vec<String>), String> {
    let mut list: Vec<serde_json::Value> =
        serde_json::from_slice(text).map_err(|e| format!("manifest.json: {e}"))?;
    if list.len() != 1 {
        return Err(format!("{} images in one snapshot", list.len()));
    }
    let Some(image) = list[0].as_object_mut() else {
        return Err("manifest.json: an entry is not an object".into());
    };
    let config = image
        .get("Config")
        .and_then(|c| c.as_str())
        .ok_or("manifest.json: no Config")?
        .to_owned();
    let mut files = vec![config];
    for layer in image
        .get("Layers")
        .and_then(|l| l.as_array())
        .ok_or("manifest.json: no Layers")?
    {
        files.push(
            layer
                .as_str()
                .ok_or("manifest.json: a layer is not a path")?
                .to_owned(),
        );
    }
    image.insert("RepoTags".into(), serde_json::json!([tag]));
    let text = serde_json::to_vec(&list).map_err(|e| e.to_string())?;
    Ok((text, files))
}

#[cfg(test)]
mod tests {
    use super::manifest_for;

    #[test]
    fn a_manifest_gets_exactly_our_tag_or_is_refused() {
        let ours = "localhost/aicockpit/snapshot:s1";
        let table: &[(&str, Result<&str, &str>)] = &[
            (
                r#"[{"Config":"c.json","RepoTags":["localhost/aicockpit/base:latest"],"Layers":["l/layer.tar"]}]"#,
                Ok(
                    r#"[{"Config":"c.json","Layers":["l/layer.tar"],"RepoTags":["localhost/aicockpit/snapshot:s1"]}]"#,
                ),
            ),
            (
                r#"[{"Config":"c.json","Layers":[]}]"#,
                Ok(
                    r#"[{"Config":"c.json","Layers":[],"RepoTags":["localhost/aicockpit/snapshot:s1"]}]"#,
                ),
            ),
            (r#"[{"Config":"a"},{"Config":"b"}]"#, Err("2 images")),
            (r#"[{"Layers":[]}]"#, Err("no Config")),
            (r#"[{"Config":"c","Layers":[7]}]"#, Err("not a path")),
            ("[]", Err("0 images")),
            (r#"{"Config":"a"}"#, Err("manifest.json")),
            (r#"["x"]"#, Err("not an object")),
            ("not json", Err("manifest.json")),
        ];
        for (input, want) in table {
            let got = manifest_for(input.as_bytes(), ours)
                .map(|(v, _)| String::from_utf8_lossy(&v).into_owned());
            match (want, got) {
                (Ok(w), Ok(g)) => assert_eq!(&g, w, "{input}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{input}: {g}"),
                (w, g) => panic!("{input}: wanted {w:?}, got {g:?}"),
            }
        }
    }
}
