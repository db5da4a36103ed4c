//! The mock host's router: path templates matched as the server's router matches them — a
//! static segment exactly, `{name}` one non-empty segment, `{*name}` (last) the non-empty
//! rest of the path; static beats `{name}` beats `{*name}`, segment by segment from the left;
//! parameters percent-decoded; an empty path is `/`.

use crate::handshake::percent_decode;

/// One segment of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Static(String),
    Param(String),
    Rest(String),
}

impl Segment {
    /// Lower is more specific.
    fn rank(&self) -> u8 {
        match self {
            Segment::Static(_) => 0,
            Segment::Param(_) => 1,
            Segment::Rest(_) => 2,
        }
    }
}

/// The templates of one context, with each endpoint's subprotocols.
#[derive(Debug, Default)]
pub(super) struct Routes {
    templates: Vec<Vec<Segment>>,
    subprotocols: Vec<Vec<String>>,
}

/// A matched endpoint: its index and the path parameters, in template order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Route {
    pub(super) endpoint: u32,
    pub(super) params: Vec<(String, String)>,
}

fn segments(path: &str) -> Vec<&str> {
    match path.strip_prefix('/').unwrap_or(path) {
        "" => Vec::new(),
        rest => rest.split('/').collect(),
    }
}

fn parse(template: &str) -> Vec<Segment> {
    let parse_one = |segment: &str| {
        let inner = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        match inner {
            Some(name) => match name.strip_prefix('*') {
                Some(rest) => Segment::Rest(rest.to_owned()),
                None => Segment::Param(name.to_owned()),
            },
            None => Segment::Static(segment.to_owned()),
        }
    };
    segments(template).into_iter().map(parse_one).collect()
}

impl Routes {
    /// Adds an endpoint; its index is the order of addition.
    pub(super) fn add(&mut self, template: &str, subprotocols: &[&str]) {
        self.templates.push(parse(template));
        let owned = subprotocols.iter().map(|p| (*p).to_owned()).collect();
        self.subprotocols.push(owned);
    }

    /// The endpoint's declared subprotocols, in preference order.
    pub(super) fn subprotocols(&self, endpoint: u32) -> &[String] {
        self.subprotocols
            .get(endpoint as usize)
            .map_or(&[], Vec::as_slice)
    }

    /// The most specific template matching `path`.
    pub(super) fn find(&self, path: &str) -> Option<Route> {
        let parts = segments(path);
        let candidates = self.templates.iter().enumerate();
        let matched = candidates.filter_map(|(i, template)| {
            let params = match_template(template, &parts)?;
            let rank: Vec<u8> = template.iter().map(Segment::rank).collect();
            Some((rank, i, params))
        });
        let (_, endpoint, params) = matched.min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)))?;
        let endpoint = u32::try_from(endpoint).ok()?;
        Some(Route { endpoint, params })
    }
}

fn match_template(template: &[Segment], parts: &[&str]) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    for (i, segment) in template.iter().enumerate() {
        match segment {
            Segment::Static(name) => (parts.get(i)? == name).then_some(())?,
            Segment::Param(name) => {
                let value = parts.get(i).filter(|part| !part.is_empty())?;
                params.push((name.clone(), percent_decode(value)));
            }
            Segment::Rest(name) => {
                let rest = parts.get(i..).map(|rest| rest.join("/"))?;
                if rest.is_empty() {
                    return None;
                }
                params.push((name.clone(), percent_decode(&rest)));
                return Some(params);
            }
        }
    }
    (template.len() == parts.len()).then_some(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(templates: &[&str]) -> Routes {
        let mut routes = Routes::default();
        for template in templates {
            routes.add(template, &[]);
        }
        routes
    }

    fn found(routes: &Routes, path: &str) -> Option<(u32, Vec<(String, String)>)> {
        routes.find(path).map(|r| (r.endpoint, r.params))
    }

    fn param(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn templates_match_like_the_servers_router() {
        let routes = routes(&["/", "/rooms/{room}", "/rooms/lobby", "/files/{*path}"]);
        assert_eq!(found(&routes, ""), Some((0, vec![])));
        assert_eq!(found(&routes, "/"), Some((0, vec![])));
        assert_eq!(
            found(&routes, "/rooms/a%20b"),
            Some((1, vec![param("room", "a b")]))
        );
        assert_eq!(
            found(&routes, "/rooms/lobby"),
            Some((2, vec![])),
            "static wins"
        );
        assert_eq!(
            found(&routes, "/files/a/b"),
            Some((3, vec![param("path", "a/b")]))
        );
        for missing in ["/rooms", "/rooms/", "/rooms/a/b", "/files/", "/nope"] {
            assert_eq!(found(&routes, missing), None, "{missing}");
        }
    }

    #[test]
    fn a_param_beats_a_rest_and_plus_stays_in_paths() {
        let routes = routes(&["/{*all}", "/{one}"]);
        assert_eq!(found(&routes, "/a+b"), Some((1, vec![param("one", "a+b")])));
        assert_eq!(found(&routes, "/a/b"), Some((0, vec![param("all", "a/b")])));
    }
}
