//! Reading the staff console's HTML as a browser would, without a parser:
//! a form field's value, the rows of the list, and the list's next-page
//! link — `rel="next"` when the page marks it, else the link that reads
//! "Next page" — whether it carries a page number (`?page=N`, offset
//! paging) or anything else (a keyset cursor).

/// The value of the `<input name="{name}">` of the page.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    tags(html, "input")
        .find(|tag| attr(tag, "name").as_deref() == Some(name))
        .and_then(|tag| attr(tag, "value"))
}

/// Enquiries listed on a list page (links to one enquiry each).
pub fn list_rows(html: &str) -> usize {
    html.matches("href=\"/staff/enquiries/").count()
}

/// The href of the next-page link, unescaped.
pub fn next_href(html: &str) -> Option<String> {
    let marked = tags(html, "a")
        .chain(tags(html, "link"))
        .find(|tag| attr(tag, "rel").is_some_and(|rel| rel.split_whitespace().any(|r| r == "next")))
        .and_then(|tag| attr(tag, "href"));
    marked.or_else(|| {
        html.match_indices("<a ").find_map(|(start, _)| {
            let rest = &html[start..];
            let tag_end = rest.find('>')?;
            let text_end = rest.find("</a>")?;
            let text = rest.get(tag_end + 1..text_end)?.trim();
            text.eq_ignore_ascii_case("next page")
                .then(|| attr(&rest[..tag_end], "href"))
                .flatten()
        })
    })
}

/// The page number of an offset-paging link (`page=N` in its query);
/// `None` for a keyset link (`after=` or `before=` a row), whose `page=`
/// only numbers the caption and must be followed, not rewritten.
pub fn page_number(href: &str) -> Option<u32> {
    if query_pairs(href).any(|(k, _)| k == "after" || k == "before") {
        return None;
    }
    query_pairs(href).find_map(|(k, v)| (k == "page").then(|| v.parse().ok()).flatten())
}

/// `href` with its `page=` set to `page`.
pub fn with_page(href: &str, page: u32) -> String {
    let (path, query) = href.split_once('?').unwrap_or((href, ""));
    let pairs: Vec<String> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some(("page", _)) => format!("page={page}"),
            _ => p.to_owned(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// A link of the list as a path on the service (`?after=…` alone is
/// relative to the list).
pub fn resolve(href: &str, base: &str) -> String {
    if let Some(path) = href.strip_prefix(base) {
        path.to_owned()
    } else if href.starts_with('?') {
        format!("/staff/enquiries{href}")
    } else {
        href.to_owned()
    }
}

fn query_pairs(href: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = href.split_once('?').map_or("", |(_, q)| q);
    query.split('&').filter_map(|p| p.split_once('='))
}

/// The opening tags `<{name} …>` of the page (the text between `<` and `>`).
fn tags<'h>(html: &'h str, name: &str) -> std::vec::IntoIter<&'h str> {
    let open = format!("<{name} ");
    let found: Vec<&str> = html
        .match_indices(&open)
        .filter_map(|(start, _)| {
            let rest = &html[start..];
            rest.find('>').map(|end| &rest[..end])
        })
        .collect();
    found.into_iter()
}

/// An attribute's value (double or single quoted), unescaped.
fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=");
    let at = tag.find(&key)? + key.len();
    let rest = &tag[at..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    let end = value.find(quote)?;
    Some(unescape(&value[..end]))
}

/// The character references askama writes in attributes.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "lt" => Some('<'),
            "gt" => Some('>'),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checked at every run, before the first read: cheap, and a template
/// change that breaks the extractor should stop the bench, not skew it.
pub fn self_check() -> anyhow::Result<()> {
    let today = r#"<nav><a href="/staff/enquiries?q=smith&amp;page=1">Previous page</a>
<a href="/staff/enquiries?q=smith&amp;page=3">Next page</a></nav>"#;
    let keyset =
        r#"<a rel="next" href="/staff/enquiries?before=1700000000000%3A0190&#x2f;x">Older</a>"#;
    let form = r#"<input type="hidden" name="csrf" value="a&#x2B;b">"#;
    let checks = [
        next_href(today).as_deref() == Some("/staff/enquiries?q=smith&page=3"),
        page_number("/staff/enquiries?q=smith&page=3") == Some(3),
        with_page("/staff/enquiries?q=smith&page=3", 500) == "/staff/enquiries?q=smith&page=500",
        next_href(keyset).as_deref() == Some("/staff/enquiries?before=1700000000000%3A0190/x"),
        page_number("/staff/enquiries?before=1").is_none(),
        input_value(form, "csrf").as_deref() == Some("a+b"),
        resolve("?after=x", "http://h") == "/staff/enquiries?after=x",
        page_number("/staff/enquiries?after=1_a&page=2").is_none(),
    ];
    anyhow::ensure!(
        checks.iter().all(|ok| *ok),
        "the HTML extractor's self-check failed: {checks:?}"
    );
    Ok(())
}
