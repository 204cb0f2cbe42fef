//! Table tests of devcontainer.json parsing: accepted configurations, refusals, substitution, lifecycle forms.

use super::*;

fn vars() -> Vars {
    Vars {
        workspace_folder: "/workspace".into(),
        container_workspace_folder: "/workspace".into(),
        devcontainer_id: "abc123".into(),
        container_env: None,
    }
}

fn at(text: &str, path: &str) -> Result<DevContainer, ConfigError> {
    parse(text, path, &vars())
}

fn ok(text: &str) -> DevContainer {
    match at(text, ".devcontainer/devcontainer.json") {
        Ok(c) => c,
        Err(e) => panic!("{text}: {e}"),
    }
}

#[test]
fn a_full_configuration_with_comments_and_trailing_commas() {
    let c = ok(r#"{
        // the project's environment
        "name": "demo",
        "build": { "dockerfile": "Dockerfile", "context": "..", "args": {"V": "1"}, "target": "dev" },
        "containerEnv": { "GREETING": "hi ${localEnv:HOME:none}", "DIR": "${containerWorkspaceFolder}" },
        "remoteEnv": { "PATH": "${containerEnv:PATH}:/extra", "GONE": null },
        "remoteUser": "dev",
        "forwardPorts": [5173, "localhost:8080", "db:5432", 5173],
        "portsAttributes": { "5173": { "label": "Vite", "onAutoForward": "openPreview" }, "9000-9001": {"label": "r"} },
        "postCreateCommand": "echo made > /tmp/x",
        "postStartCommand": ["echo", "started"],
        "onCreateCommand": { "a": "echo a", "b": ["echo", "b"] },
        "hostRequirements": { "cpus": 2, "memory": "1.5gb", "gpu": true },
        "mounts": ["source=cache,target=/cache,type=volume", {"type": "volume", "source": "m2", "target": "/m2"}],
        "customizations": { "vscode": {} },
    }"#);
    assert_eq!(c.name.as_deref(), Some("demo"));
    assert_eq!(
        c.image,
        ImageSource::Build {
            context_dir: "/workspace".into(),
            dockerfile: ".devcontainer/Dockerfile".into(),
            args: BTreeMap::from([("V".into(), "1".into())]),
            target: Some("dev".into()),
        }
    );
    // localEnv never reads the server's environment: the default is used.
    assert_eq!(c.container_env["GREETING"], "hi none");
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("${localEnv:…} is its default or empty")),
        "said in the log: {:?}",
        c.notes
    );
    assert_eq!(c.container_env["DIR"], "/workspace");
    // containerEnv waits for the container.
    assert_eq!(
        c.remote_env["PATH"].as_deref(),
        Some("${containerEnv:PATH}:/extra")
    );
    assert_eq!(c.remote_env["GONE"], None, "null unsets");
    assert_eq!(c.remote_user.as_deref(), Some("dev"));
    assert_eq!(c.forward_ports, vec![5173, 8080]);
    assert_eq!(c.ports_attributes[&5173].label.as_deref(), Some("Vite"));
    assert_eq!(c.ports_attributes[&9001].label.as_deref(), Some("r"));
    assert_eq!(
        c.lifecycle
            .commands
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>(),
        vec!["onCreateCommand", "postCreateCommand", "postStartCommand"]
    );
    let (_, on_create) = &c.lifecycle.commands[0];
    assert_eq!(
        on_create.argvs(),
        vec![
            (
                Some("a".into()),
                vec!["/bin/sh".into(), "-c".into(), "echo a".into()]
            ),
            (Some("b".into()), vec!["echo".into(), "b".into()]),
        ]
    );
    assert_eq!(c.cpus, Some(2.0));
    assert_eq!(c.memory_mb, Some(1536));
    assert_eq!(c.mounts.len(), 2);
    assert!(c.notes.iter().any(|n| n.contains("db:5432")));
    assert!(c.notes.iter().any(|n| n.starts_with("customizations")));
    assert!(c.notes.iter().any(|n| n.contains("gpu")));
}

#[test]
fn where_the_file_is_decides_where_paths_start() {
    let c = at(
        r#"{"build": {"dockerfile": "Dockerfile"}}"#,
        ".devcontainer.json",
    )
    .expect("test value");
    assert_eq!(
        c.image,
        ImageSource::Build {
            context_dir: "/workspace".into(),
            dockerfile: "Dockerfile".into(),
            args: BTreeMap::new(),
            target: None
        }
    );
    let c = ok(r#"{"dockerFile": "../docker/Dev.Dockerfile", "context": ".."}"#);
    assert!(
        matches!(c.image, ImageSource::Build { ref dockerfile, .. } if dockerfile == "docker/Dev.Dockerfile")
    );
    let c =
        ok(r#"{"image": "localhost/aicockpit/base:latest", "workspaceFolder": "/workspace/app"}"#);
    assert_eq!(
        c.image,
        ImageSource::Image("localhost/aicockpit/base:latest".into())
    );
    assert_eq!(c.workspace_folder, "/workspace/app");
}

/// Hostile or mistaken configurations: (text, property named, refused for
/// isolation).
#[test]
fn the_refusal_table() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let big = format!("{{\"name\": \"{}\"}}", "a".repeat(300 * 1024));
    let cases: Vec<(&str, &str, bool)> = vec![
        (r#"{"image": "x", "privileged": true}"#, "privileged", true),
        (
            r#"{"image": "x", "capAdd": ["SYS ADMIN"]}"#,
            "capAdd",
            false,
        ),
        (r#"{"image": "x", "capAdd": "SYS_ADMIN"}"#, "capAdd", false),
        (
            r#"{"image": "x", "securityOpt": ["seccomp=unconfined"]}"#,
            "securityOpt",
            true,
        ),
        (
            r#"{"image": "x", "runArgs": ["--network=host"]}"#,
            "runArgs",
            true,
        ),
        (
            r#"{"image": "x", "runArgs": ["--init", "--privileged"]}"#,
            "runArgs",
            true,
        ),
        (
            r#"{"image": "x", "runArgs": "--privileged"}"#,
            "runArgs",
            false,
        ),
        (r#"{"image": "x", "appPort": [3000]}"#, "appPort", true),
        (
            r#"{"image": "x", "workspaceMount": "source=/,target=/w,type=bind"}"#,
            "workspaceMount",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=/var/run/docker.sock,target=/s,type=bind"]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": [{"type": "bind", "source": "/", "target": "/h"}]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=relative"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["source=../v,target=/v"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["type=tmpfs,target=/t"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/workspace"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/workspace/"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/proc/sys"]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/etc"]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/usr/local/bin"]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/.aicockpit"]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/root/.cache"]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/home"]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/var/lib/docker"]}"#,
            "mounts",
            true,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/a/../workspace"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["source=a--b,target=/v"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v,target=/a", "source=v,target=/b"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"image": "x", "mounts": ["source=v1,target=/a","source=v2,target=/b","source=v3,target=/c","source=v4,target=/d","source=v5,target=/e","source=v6,target=/f","source=v7,target=/g","source=v8,target=/h","source=v9,target=/i"]}"#,
            "mounts",
            false,
        ),
        (
            r#"{"build": {"dockerfile": "D", "options": ["--network=host"]}}"#,
            "build.options",
            true,
        ),
        (
            r#"{"build": {"dockerfile": "D", "context": "../.."}}"#,
            "build.context",
            false,
        ),
        (
            r#"{"build": {"dockerfile": "/etc/passwd"}}"#,
            "build.dockerfile",
            false,
        ),
        (
            r#"{"build": {"dockerfile": "../D", "context": "."}}"#,
            "build.dockerfile",
            false,
        ),
        (
            r#"{"build": {"dockerfile": "D", "target": "a b"}}"#,
            "build.target",
            false,
        ),
        (
            r#"{"build": {"dockerfile": "D", "args": {"A": 1}}}"#,
            "build.args",
            false,
        ),
        (
            r#"{"image": "x", "build": {"dockerfile": "D"}}"#,
            "image",
            false,
        ),
        (r#"{"image": "-x"}"#, "image", false),
        (r#"{"image": 5}"#, "image", false),
        (r#"{"name": "n"}"#, "", false),
        (r#"[]"#, "", false),
        (r#"{"image": "x",}  {"#, "", false),
        (r#"{'image': 'x'}"#, "", false),
        (&deep, "", false),
        (&big, "", false),
        (
            r#"{"image": "x", "dockerComposeFile": "c.yml"}"#,
            "dockerComposeFile",
            false,
        ),
        (
            r#"{"image": "x", "features": {"devcontainers/features/node:1": {}}}"#,
            "features",
            false,
        ),
        (
            r#"{"image": "x", "features": {"../outside": {}}}"#,
            "features",
            false,
        ),
        (
            r#"{"image": "x", "features": {"./a/../../b": {}}}"#,
            "features",
            false,
        ),
        (
            r#"{"image": "x", "features": {"./ok": {"opt": [1]}}}"#,
            "features",
            false,
        ),
        (
            r#"{"image": "x", "containerEnv": {"A": 1}}"#,
            "containerEnv",
            false,
        ),
        (
            r#"{"image": "x", "containerEnv": {"A=B": "1"}}"#,
            "containerEnv",
            false,
        ),
        (
            r#"{"image": "x", "remoteUser": "a b"}"#,
            "remoteUser",
            false,
        ),
        (
            r#"{"image": "x", "remoteUser": "$(id)"}"#,
            "remoteUser",
            false,
        ),
        (
            r#"{"image": "x", "forwardPorts": [70000]}"#,
            "forwardPorts",
            false,
        ),
        (
            r#"{"image": "x", "forwardPorts": [0]}"#,
            "forwardPorts",
            false,
        ),
        (
            r#"{"image": "x", "forwardPorts": "80"}"#,
            "forwardPorts",
            false,
        ),
        (
            r#"{"image": "x", "portsAttributes": {"80": {"onAutoForward": "run"}}}"#,
            "portsAttributes",
            false,
        ),
        (
            r#"{"image": "x", "postCreateCommand": 5}"#,
            "postCreateCommand",
            false,
        ),
        (
            r#"{"image": "x", "postCreateCommand": ["a", 1]}"#,
            "postCreateCommand",
            false,
        ),
        (
            r#"{"image": "x", "postCreateCommand": {"a": {"b": "c"}}}"#,
            "postCreateCommand",
            false,
        ),
        (
            r#"{"image": "x", "hostRequirements": {"memory": "lots"}}"#,
            "hostRequirements.memory",
            false,
        ),
        (
            r#"{"image": "x", "hostRequirements": {"cpus": -1}}"#,
            "hostRequirements.cpus",
            false,
        ),
        (
            r#"{"image": "x", "workspaceFolder": "relative"}"#,
            "workspaceFolder",
            false,
        ),
    ];
    for (text, property, refused) in cases {
        let shown = &text[..text.len().min(80)];
        match at(text, ".devcontainer/devcontainer.json") {
            Ok(c) => panic!("{shown} was accepted: {c:?}"),
            Err(e) => {
                assert_eq!(e.property, property, "{shown}: {e}");
                assert_eq!(e.refused, refused, "{shown}: {e}");
                assert!(!e.message.is_empty());
            }
        }
    }
}

#[test]
fn substitution() {
    let mut v = vars();
    v.container_env = Some(BTreeMap::from([("PATH".into(), "/bin".into())]));
    for (input, want) in [
        ("${containerEnv:PATH}:/x", "/bin:/x"),
        ("${containerEnv:NOPE:dflt}", "dflt"),
        ("${containerEnv:NOPE}", ""),
        ("${localEnv:AICOCKPIT_SECRET}", ""),
        ("${localEnv:HOME:/home/x}", "/home/x"),
        ("${env:PATH}", ""),
        ("${localWorkspaceFolderBasename}", "workspace"),
        ("${devcontainerId}", "abc123"),
        ("${unknown}", "${unknown}"),
        ("${unterminated", "${unterminated"),
        ("$HOME", "$HOME"),
    ] {
        assert_eq!(substitute(input, &v), want, "{input}");
    }
    // Growth is bounded.
    let many = "${containerWorkspaceFolder}".repeat(10_000);
    assert!(substitute(&many, &v).len() < 128 * 1024);
}

#[test]
fn lifecycle_forms() {
    let c = ok(r#"{"image": "x",
        "postAttachCommand": "a", "postStartCommand": "", "updateContentCommand": ["u"],
        "onCreateCommand": {}, "postCreateCommand": {"x": ["p"], "y": "q"}}"#);
    let order: Vec<&str> = c
        .lifecycle
        .commands
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    assert_eq!(
        order,
        vec![
            "updateContentCommand",
            "postCreateCommand",
            "postAttachCommand"
        ]
    );
    let once: Vec<&str> = c
        .lifecycle
        .of(&[
            "onCreateCommand",
            "updateContentCommand",
            "postCreateCommand",
        ])
        .map(|(p, _)| p)
        .collect();
    assert_eq!(once, vec!["updateContentCommand", "postCreateCommand"]);
    // The parsed configuration survives being stored.
    let text = serde_json::to_string(&c).expect("test value");
    assert_eq!(
        serde_json::from_str::<DevContainer>(&text).expect("test value"),
        c
    );
}

/// capAdd is read into names; the server's list decides:
/// (capAdd, allowed, the capability refused).
#[test]
fn cap_add_is_refused_unless_an_admin_allowed_it() {
    let table: &[(&str, &[&str], Option<&str>)] = &[
        (r#"["SYS_ADMIN"]"#, &[], Some("SYS_ADMIN")),
        (r#"["SYS_PTRACE"]"#, &["SYS_PTRACE"], None),
        (
            r#"["cap_sys_ptrace", "SYS_PTRACE"]"#,
            &["CAP_SYS_PTRACE"],
            None,
        ),
        (
            r#"["SYS_PTRACE", "NET_ADMIN"]"#,
            &["SYS_PTRACE"],
            Some("NET_ADMIN"),
        ),
        (r#"["ALL"]"#, &["SYS_PTRACE"], Some("ALL")),
        (r#"[]"#, &[], None),
    ];
    for (caps, allowed, refused) in table {
        let c = ok(&format!(r#"{{"image": "x", "capAdd": {caps}}}"#));
        let allowed: Vec<String> = allowed.iter().map(|a| (*a).to_owned()).collect();
        match (check_cap_add(&c, &allowed), refused) {
            (Ok(()), None) => {}
            (Err(e), Some(name)) => {
                assert_eq!(e.property, "capAdd", "{caps}");
                assert!(e.refused, "{caps}");
                assert!(e.message.starts_with(name), "{caps}: {e}");
            }
            (got, want) => panic!("{caps} with {allowed:?}: {got:?}, wanted {want:?} refused"),
        }
    }
}

/// `workspaceFolder` naming `${containerWorkspaceFolder}` (the default
/// before it is read) is substituted once, and the rest sees its value.
#[test]
fn workspace_folder_is_substituted_once() {
    let c = ok(
        r#"{"image": "x", "workspaceFolder": "${containerWorkspaceFolder}/app",
        "containerEnv": {"W": "${containerWorkspaceFolder}"}}"#,
    );
    assert_eq!(c.workspace_folder, "/workspace/app");
    assert_eq!(c.container_env["W"], "/workspace/app");
}

/// Places a named volume may go (the user's own, or new).
#[test]
fn volume_places() {
    for ok in [
        "/home/dev/.cache",
        "/home/dev",
        "/workspace/node_modules",
        "/tmp/x",
        "/var/cache/apt",
        "/var/tmp/x",
        "/mnt/data",
        "/commandhistory",
    ] {
        assert!(volume_place_allowed(ok), "{ok}");
    }
}
