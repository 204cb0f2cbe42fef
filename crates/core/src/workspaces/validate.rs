//! Checks on user input for workspaces. Each returns a message fit for the
//! user; callers wrap it in the right error code.

use std::collections::BTreeMap;

/// Workspace and template names: DNS labels, because they become host names.
pub fn name(n: &str) -> Result<(), String> {
    let ok = !n.is_empty()
        && n.len() <= 63
        && n.as_bytes()[0].is_ascii_alphanumeric()
        && !n.ends_with('-')
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name {n:?}: use 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        ))
    }
}

/// A plausible image reference (the engine has the final word).
pub fn image(i: &str) -> Result<(), String> {
    let ok = !i.is_empty()
        && i.len() <= 255
        && !i.starts_with(['-', '/', '.', ':', '@'])
        && i.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-/:@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid image reference {i:?}"))
    }
}

/// Environment variables: portable names, no NUL, bounded size.
pub fn env(env: &BTreeMap<String, String>) -> Result<(), String> {
    if env.len() > 200 {
        return Err("at most 200 environment variables".into());
    }
    let mut total = 0;
    for (k, v) in env {
        let ok_key = !k.is_empty()
            && k.len() <= 256
            && !k.as_bytes()[0].is_ascii_digit()
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ok_key {
            return Err(format!("invalid environment variable name {k:?}"));
        }
        if v.contains('\0') {
            return Err(format!("environment variable {k} contains a NUL byte"));
        }
        total += k.len() + v.len();
    }
    if total > 64 * 1024 {
        return Err("environment variables exceed 64 KiB in total".into());
    }
    Ok(())
}

pub fn ports(ports: &[u16]) -> Result<(), String> {
    if ports.len() > 32 {
        return Err("at most 32 ports".into());
    }
    if ports.contains(&0) {
        return Err("port 0 is not a port".into());
    }
    let mut sorted = ports.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != ports.len() {
        return Err("ports are listed twice".into());
    }
    Ok(())
}

/// A command line for `exec`.
pub fn argv(argv: &[String]) -> Result<(), String> {
    if argv.is_empty() || argv[0].is_empty() {
        return Err("argv must name a program".into());
    }
    if argv.len() > 4096 || argv.iter().map(|a| a.len()).sum::<usize>() > 256 * 1024 {
        return Err("argv is too long".into());
    }
    if argv.iter().any(|a| a.contains('\0')) {
        return Err("argv contains a NUL byte".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["a", "my-ws", "x1", &"a".repeat(63)] {
            assert!(name(good).is_ok(), "{good} refused");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "a.b",
            "a b",
            "ä",
            &"a".repeat(64),
            "../x",
        ] {
            assert!(name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn images() {
        for good in [
            "debian",
            "localhost/aicockpit/base:latest",
            "ghcr.io/x/y@sha256:abc",
            "a:1.0",
        ] {
            assert!(image(good).is_ok(), "{good} refused");
        }
        for bad in ["", "-x", "a b", "x;rm", "/abs", "a\nb"] {
            assert!(image(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn env_and_ports_and_argv() {
        let mut e = BTreeMap::new();
        e.insert("GOOD_1".to_string(), "v".to_string());
        assert!(env(&e).is_ok());
        e.insert("1BAD".to_string(), "v".to_string());
        assert!(env(&e).is_err());
        let mut e = BTreeMap::new();
        e.insert("A".to_string(), "x\0y".to_string());
        assert!(env(&e).is_err());
        assert!(ports(&[80, 443]).is_ok());
        assert!(ports(&[80, 80]).is_err());
        assert!(ports(&[0]).is_err());
        assert!(argv(&["ls".into()]).is_ok());
        assert!(argv(&[]).is_err());
        assert!(argv(&["".into()]).is_err());
        assert!(argv(&["a\0b".into()]).is_err());
    }
}
