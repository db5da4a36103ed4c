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

const TEXT_LIMIT: &str = "websocket/max-incoming-text-message-buffer-size";

/// `app` with one setting changed, in its settings (by `change`) and its effective rows.
fn with(
    app: &AppCandidate,
    element: &str,
    value: &str,
    change: impl FnOnce(&mut ContextSettings),
) -> AppCandidate {
    let mut app = app.clone();
    change(&mut app.settings);
    app.effective.retain(|row| row.path != element);
    app.effective.push(crate::config::EffectiveRow {
        path: element.to_owned(),
        value: value.to_owned(),
        origin: crate::config::Origin::Default,
    });
    app
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
            Step::Retune { app, changes } => {
                let changes: Vec<String> = (changes.iter())
                    .map(|c| format!("{}: {c}", c.element))
                    .collect();
                format!("retune {} ({})", app_name(app), changes.join("; "))
            }
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

    let greeted = with(&chat, "websocket/init-param[greeting]", "hello", |s| {
        s.init_params.insert("greeting".into(), "hello".into());
    });
    let steps = plan(&running(&[(&chat, 1)]), &[found(&greeted, 1)]);
    assert_eq!(
        kinds(&steps),
        [
            "redeploy chat (<websocket/init-param[greeting]> changed ((none) → hello), which cannot change live)"
        ]
    );

    let moved = app("chat", "/talk");
    let steps = plan(&running(&[(&chat, 1)]), &[found(&moved, 1)]);
    assert_eq!(
        kinds(&steps),
        ["redeploy chat (<context-path> changed from /chat to /talk)"]
    );
}

#[test]
fn settings_that_can_change_live_retune_the_running_context() {
    let chat = with(&app("chat", "/chat"), TEXT_LIMIT, "100", |s| {
        s.limits.text = 100;
    });
    let limited = with(&chat, TEXT_LIMIT, "10", |s| s.limits.text = 10);
    let draining = with(&limited, "websocket/redeploy-policy", "drain", |s| {
        s.redeploy = crate::config::descriptor::RedeployPolicy::Drain {
            timeout: Duration::from_secs(1),
        };
    });
    let steps = plan(&running(&[(&chat, 1)]), &[found(&draining, 1)]);
    assert_eq!(
        kinds(&steps),
        [
            "retune chat (websocket/max-incoming-text-message-buffer-size: 100 → 10; websocket/redeploy-policy: (none) → drain)"
        ]
    );
}

#[test]
fn a_setting_that_differs_where_no_row_shows_it_redeploys() {
    let chat = app("chat", "/chat");
    let mut hidden = chat.clone();
    hidden.settings.limits.text = 10;
    let steps = plan(&running(&[(&chat, 1)]), &[found(&hidden, 1)]);
    assert_eq!(kinds(&steps), ["redeploy chat (the descriptor changed)"]);
}

#[test]
fn every_live_element_is_one_the_descriptor_reports() {
    let rows = crate::config::descriptor::parse(
        Path::new("jeus-web-dd.xml"),
        "<jeus-web-dd><websocket/></jeus-web-dd>",
    );
    let rows = rows.value.expect("an empty descriptor is valid").effective;
    for element in LIVE_ELEMENTS {
        assert!(
            rows.iter().any(|row| row.path == *element),
            "{element} is not an effective row"
        );
    }
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
fn the_reference_says_which_elements_change_live() {
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/descriptor.md");
    let reference = std::fs::read_to_string(reference).expect("conf/descriptor.md");
    let table = reference
        .split_once("| element | unit | default | changes live |")
        .and_then(|(_, rest)| rest.split_once("\n\n"))
        .map(|(table, _)| table)
        .expect("the element table");
    let mut rows = 0;
    for line in table.lines().filter(|l| l.contains("` |")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(element), Some(live)) = (cells.get(1), cells.get(4)) else {
            continue;
        };
        let Some(element) = element.split('`').nth(1) else {
            continue;
        };
        let element = element.trim_end_matches("/origin");
        let said_live = *live != "no: redeploys";
        assert_eq!(
            is_live(element),
            said_live,
            "{element}: the reference says {live:?}"
        );
        rows += 1;
    }
    assert!(rows >= LIVE_ELEMENTS.len(), "only {rows} rows read");
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
