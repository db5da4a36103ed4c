use std::path::Path;
use std::time::Duration;

use super::*;
use crate::config::descriptor::ContextSettings;

fn app(name: &str, path: &str) -> AppCandidate {
    AppCandidate {
        dir: Path::new("apps").join(name),
        context_path: path.to_owned(),
        library: Path::new("apps").join(name).join("libx.so"),
        settings: ContextSettings::default(),
        effective: Vec::new(),
    }
}

fn id(app: &AppCandidate, inode: u64) -> LibraryId {
    LibraryId {
        path: app.library.clone(),
        inode,
        len: 100,
        modified: None,
    }
}

fn found(app: &AppCandidate, inode: u64) -> Found {
    Found {
        name: app_name(app),
        app: Some(app.clone()),
        library: Some(id(app, inode)),
        diagnostics: Vec::new(),
        unsettled: None,
    }
}

fn running(apps: &[(&AppCandidate, u64)]) -> BTreeMap<String, Known> {
    apps.iter()
        .map(|(app, inode)| {
            let known = Known {
                app: (*app).clone(),
                library: id(app, *inode),
            };
            (app_name(app), known)
        })
        .collect()
}

fn kinds(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|step| match step {
            Step::Deploy { app, .. } => format!("deploy {}", app_name(app)),
            Step::Redeploy { app, because, .. } => {
                format!("redeploy {} ({because})", app_name(app))
            }
            Step::Undeploy { name } => format!("undeploy {name}"),
            Step::Refuse {
                name,
                diagnostics,
                clash,
            } => {
                assert_eq!(
                    *clash,
                    diagnostics
                        .iter()
                        .any(|d| d.message.contains("already served"))
                );
                format!("refuse {name}{}", if *clash { " (clash)" } else { "" })
            }
            Step::Keep { name } => format!("keep {name}"),
            Step::Wait { name } => format!("wait {name}"),
        })
        .collect()
}

#[test]
fn new_directories_deploy_and_unchanged_ones_stay() {
    let (chat, echo) = (app("chat", "/chat"), app("echo", "/echo"));
    let steps = plan(&running(&[(&chat, 1)]), &[found(&chat, 1), found(&echo, 2)]);
    assert_eq!(kinds(&steps), ["keep chat", "deploy echo"]);
}

#[test]
fn a_changed_library_or_descriptor_redeploys_and_says_why() {
    let chat = app("chat", "/chat");
    let steps = plan(&running(&[(&chat, 1)]), &[found(&chat, 7)]);
    assert_eq!(
        kinds(&steps),
        ["redeploy chat (the plugin library apps/chat/libx.so changed)"]
    );

    let mut limited = chat.clone();
    limited.settings.limits.text = 10;
    let steps = plan(&running(&[(&chat, 1)]), &[found(&limited, 1)]);
    assert_eq!(
        kinds(&steps),
        ["redeploy chat (<max-incoming-*-message-buffer-size> changed)"]
    );

    let mut draining = chat.clone();
    draining.settings.redeploy = crate::config::descriptor::RedeployPolicy::Drain {
        timeout: Duration::from_secs(1),
    };
    let steps = plan(&running(&[(&chat, 1)]), &[found(&draining, 1)]);
    assert!(kinds(&steps)[0].starts_with("redeploy chat (<redeploy-policy"));

    let moved = app("chat", "/talk");
    let steps = plan(&running(&[(&chat, 1)]), &[found(&moved, 1)]);
    assert_eq!(
        kinds(&steps),
        ["redeploy chat (<context-path> changed from /chat to /talk)"]
    );
}

#[test]
fn a_gone_directory_undeploys_and_a_renamed_one_is_an_undeploy_and_a_deploy() {
    let chat = app("chat", "/chat");
    assert_eq!(
        kinds(&plan(&running(&[(&chat, 1)]), &[])),
        ["undeploy chat"]
    );
    let renamed = app("talk", "/chat");
    let steps = plan(&running(&[(&chat, 1)]), &[found(&renamed, 1)]);
    assert_eq!(kinds(&steps), ["deploy talk", "undeploy chat"]);
}

#[test]
fn an_invalid_new_version_is_refused_and_the_running_one_stays() {
    let chat = app("chat", "/chat");
    let broken = Found {
        name: "chat".into(),
        app: None,
        library: None,
        diagnostics: Vec::new(),
        unsettled: None,
    };
    assert_eq!(
        kinds(&plan(&running(&[(&chat, 1)]), &[broken])),
        ["refuse chat"]
    );
}

#[test]
fn a_path_already_served_is_refused_to_the_newcomer_whatever_the_order() {
    let b = app("b", "/shared");
    let a = app("a", "/shared");
    let steps = plan(&running(&[(&b, 1)]), &[found(&a, 2), found(&b, 1)]);
    assert_eq!(kinds(&steps), ["refuse a (clash)", "keep b"]);
    let steps = plan(&BTreeMap::new(), &[found(&a, 2), found(&b, 1)]);
    assert_eq!(kinds(&steps), ["deploy a", "refuse b (clash)"]);
}

#[test]
fn a_directory_still_changing_waits_but_a_gone_one_is_undeployed() {
    let (chat, echo, news) = (
        app("chat", "/chat"),
        app("echo", "/echo"),
        app("news", "/news"),
    );
    let unsettled = |found: Found| Found {
        unsettled: Some(Duration::from_millis(300)),
        ..found
    };
    let half_written = Found {
        app: None,
        library: None,
        ..unsettled(found(&news, 3))
    };
    let steps = plan(
        &running(&[(&chat, 1), (&echo, 2)]),
        &[unsettled(found(&chat, 9)), half_written],
    );
    assert_eq!(
        kinds(&steps),
        ["wait chat", "wait news", "undeploy echo"],
        "a changed library waits, a new directory is neither deployed nor refused"
    );
}

#[test]
fn a_context_that_waits_keeps_its_path_and_a_newcomer_that_waits_claims_none() {
    let chat = app("chat", "/chat");
    let unsettled = |found: Found| Found {
        unsettled: Some(Duration::from_millis(300)),
        ..found
    };
    let squatter = unsettled(found(&app("talk", "/chat"), 4));
    let steps = plan(&running(&[(&chat, 1)]), &[found(&chat, 1), squatter]);
    assert_eq!(kinds(&steps), ["keep chat", "wait talk"]);
    let moving = unsettled(found(&app("chat", "/talk"), 1));
    let newcomer = found(&app("talk", "/chat"), 4);
    let steps = plan(&running(&[(&chat, 1)]), &[moving, newcomer]);
    assert_eq!(kinds(&steps), ["wait chat", "refuse talk (clash)"]);
}
