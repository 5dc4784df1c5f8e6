//! HTML pages rendered with askama: the enquiry form (fresh or with errors and
//! the values typed, hosted or embedded), the thank-you page and the error page.

//!
//! This file holds the view types and puts the form page together;
//! `form_fields` builds its boxes from the field table.

mod form_fields;

use askama::Template;

use self::form_fields::{Answers, error_summary};
use super::captcha_widget::CaptchaWidget;
use crate::config::{CaptchaSettings, SiteSettings};
use crate::domain::{FieldErrors, RawSubmission};

/// The hidden field that marks a post from the embedded form, so a 422 page
/// and the thank-you redirect stay embedded too.
pub const EMBED_FIELD: &str = "_embed";

#[derive(Template)]
#[template(path = "form.html")]
pub struct FormPage {
    pub site_slug: String,
    pub site_name: String,
    pub intro: Option<String>,
    pub action: String,
    /// Where the script goes after a 201 (the browser post gets a 303 there).
    pub thanks_url: String,
    pub idempotency_key: String,
    /// Signed render time (`_t`); filled by the spam defence, empty until then.
    pub time_token: String,
    /// What the script needs to keep `_t` fresh on a page left open (see
    /// [`FormPage::with_time_token`]); zero until then, which switches the
    /// refresh off.
    pub token_clock: TokenClock,
    /// Name of the visually hidden honeypot input.
    pub honeypot_field: String,
    /// `?embed=1`: no page chrome, height posted to the parent frame.
    pub embed: bool,
    pub has_errors: bool,
    pub errors: Vec<ErrorItem>,
    pub text_fields: Vec<TextField>,
    pub select_fields: Vec<SelectField>,
    /// Answers a site's own form asked for that the hosted form has no field
    /// for, shown again after a 422 (see [`FormPage::retyped`]).
    pub extra_fields: Vec<ExtraInput>,
    pub consent: Option<ConsentBox>,
    pub captcha: Option<CaptchaWidget>,
    pub submit_label: String,
    /// The visit booking block (`http::visit_fields`), already rendered; empty
    /// when the site does not book visits.
    pub visit_fields: String,
}

/// Seconds, for the form's `data-token-*` attributes (read by `form.js`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokenClock {
    /// The server's Unix time when the page was rendered.
    pub now: u64,
    /// Fetch a new `_t` once the one carried is this old.
    pub refresh_after: u64,
    /// `spam.min_fill_time`.
    pub min_fill: u64,
}

/// The consent statement the site configured, as a required checkbox.
pub struct ConsentBox {
    pub text: String,
    pub version: String,
    pub checked: bool,
    pub error: String,
}

pub struct ErrorItem {
    pub field: String,
    pub message: String,
}

pub struct TextField {
    pub name: &'static str,
    pub label: String,
    pub input_type: &'static str,
    pub autocomplete: &'static str,
    pub required: bool,
    pub multiline: bool,
    /// Guidance under the label, e.g. "email or phone".
    pub hint: &'static str,
    pub value: String,
    pub error: String,
}

impl TextField {
    /// Ids the input's `aria-describedby` lists: its hint and its error.
    pub fn described_by(&self) -> String {
        described_by(self.name, !self.hint.is_empty(), !self.error.is_empty())
    }
}

pub struct SelectField {
    pub name: &'static str,
    pub label: String,
    pub options: Vec<SelectOption>,
    pub error: String,
}

impl SelectField {
    pub fn described_by(&self) -> String {
        described_by(self.name, false, !self.error.is_empty())
    }
}

fn described_by(name: &str, hint: bool, error: bool) -> String {
    let mut ids = Vec::new();
    if hint {
        ids.push(format!("{name}-hint"));
    }
    if error {
        ids.push(format!("{name}-error"));
    }
    ids.join(" ")
}

/// One extra answer, shown as an ordinary labelled box under the name it was
/// posted with.
pub struct ExtraInput {
    /// `extra-N`: a posted name may be anything, an id must not clash.
    pub id: String,
    pub name: String,
    pub label: String,
    pub value: String,
    pub multiline: bool,
    pub error: String,
}

impl ExtraInput {
    pub fn described_by(&self) -> String {
        if self.error.is_empty() {
            String::new()
        } else {
            format!("{}-error", self.id)
        }
    }
}

pub struct SelectOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "thanks.html")]
pub struct ThanksPage<'a> {
    pub site_name: &'a str,
    pub embed: bool,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

impl FormPage {
    /// The form for `site`, filled with what was typed and the errors found.
    pub fn new(
        site: &SiteSettings,
        typed: Option<&RawSubmission>,
        errors: &FieldErrors,
        idempotency_key: String,
    ) -> FormPage {
        FormPage::retyped(site, typed, errors, idempotency_key, Vec::new())
    }

    /// The form shown again after a 422 with everything the family typed,
    /// including `extras`: (name, value) answers a site's own form asked for
    /// that the hosted form has no field for (`Enquiry::extra_inputs`).
    ///
    /// They come back as visible boxes under their own names and labels, not
    /// as hidden inputs nor folded into the message box. Hidden, a family
    /// could neither see what is being sent nor correct an answer that is the
    /// very problem (one too long), and the page would fail the same way each
    /// time. Folded into the message, their words would move away from their
    /// question and be sent as part of the message. Under their own names a
    /// resend is parsed exactly as the first post was: each becomes its one
    /// labelled line in `care_requirements`, never two.
    pub fn retyped(
        site: &SiteSettings,
        typed: Option<&RawSubmission>,
        errors: &FieldErrors,
        idempotency_key: String,
        extras: Vec<(String, String)>,
    ) -> FormPage {
        let answers = Answers { typed, errors };
        let text_fields = form_fields::text_fields(site, &answers);
        let select_fields = form_fields::select_fields(site, &answers);
        let extra_fields = form_fields::extra_fields(extras, &answers);
        let errors = error_summary(errors, &text_fields, &select_fields, &extra_fields);
        let embed = typed.is_some_and(|t| t.first(EMBED_FIELD) == Some("1"));
        let mut page = FormPage {
            site_slug: site.slug.clone(),
            site_name: site.name.clone(),
            intro: site.intro.clone(),
            action: String::new(),
            thanks_url: String::new(),
            idempotency_key,
            time_token: String::new(),
            token_clock: TokenClock::default(),
            honeypot_field: site.honeypot_field.clone(),
            visit_fields: String::new(),
            embed: false,
            has_errors: !errors.is_empty(),
            errors,
            text_fields,
            select_fields,
            extra_fields,
            consent: form_fields::consent_box(site, &answers),
            captcha: None,
            submit_label: form_fields::label(site, "submit", "Send enquiry"),
        };
        page.set_embed(site, embed);
        page
    }

    /// Render for an `<iframe>` (no chrome; posts its height to the parent).
    pub fn embedded(mut self, site: &SiteSettings, embed: bool) -> FormPage {
        self.set_embed(site, embed);
        self
    }

    /// Carry `token` as `_t`, with what the script needs to replace it
    /// before it goes stale: the server's clock now (the browser's may be
    /// wrong), when to fetch a new one and how long a new one must wait
    /// before it is sent (or it would be held as too fast).
    pub fn with_time_token(mut self, token: String, tokens: &crate::spam::TimeTokens) -> FormPage {
        self.time_token = token;
        self.token_clock = TokenClock {
            now: crate::spam::unix_now(),
            // Half the token's life: a page open that long gets a new one
            // well before the old one would be held as stale.
            refresh_after: (tokens.max_age.as_secs() / 2).max(1),
            min_fill: tokens.min_fill_time.as_secs(),
        };
        self
    }

    /// Include the CAPTCHA provider's widget, when one is configured.
    pub fn with_captcha(mut self, captcha: &CaptchaSettings) -> FormPage {
        self.captcha = CaptchaWidget::for_site(captcha, &self.site_slug);
        self
    }

    fn set_embed(&mut self, site: &SiteSettings, embed: bool) {
        self.embed = embed;
        self.action = format!("/forms/{}", site.slug);
        self.thanks_url = match (&site.redirect_url, embed) {
            (Some(url), _) => url.clone(),
            (None, true) => format!("/forms/{}/thanks?embed=1", site.slug),
            (None, false) => format!("/forms/{}/thanks", site.slug),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_env::settings_from;

    fn site(extra: &str) -> SiteSettings {
        let toml = format!(
            "[carehq]\nsandbox = true\n[[sites]]\nslug = \"a\"\nname = \"Ash House\"\n\
             location = \"6724fbc74f73a2cebf6377fa\"\n{extra}"
        );
        settings_from(&toml).expect("valid").sites[0].clone()
    }

    #[test]
    fn errors_are_summarised_once_in_page_order_and_values_kept() {
        let site = site("consent_text = \"I agree\"\nconsent_version = \"1\"\n");
        let typed = RawSubmission::new(vec![
            ("first_name".into(), "<Ann>".into()),
            ("_embed".into(), "1".into()),
        ]);
        let mut errors = FieldErrors::default();
        errors.add("consent", "Tick the box");
        errors.add("phone", "Give email or phone");
        errors.add("email", "Give email or phone");
        errors.add("last_name", "Enter your last name");
        let page = FormPage::new(&site, Some(&typed), &errors, "k1".into());
        let fields: Vec<&str> = page.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["last_name", "email", "consent"]);
        assert!(page.embed, "a post from the embedded form stays embedded");
        assert_eq!(page.thanks_url, "/forms/a/thanks?embed=1");
        let html = page.render().expect("renders");
        assert!(
            html.contains("value=\"&#60;Ann&#62;\"") || html.contains("value=\"&lt;Ann&gt;\""),
            "escaped"
        );
        assert!(html.contains("aria-describedby=\"email-hint email-error\""));
        assert!(html.contains("name=\"_k\" value=\"k1\""));
        assert!(html.contains("I agree"));
        assert!(!html.contains("<footer"), "no chrome when embedded");
    }

    #[test]
    fn hidden_fields_and_labels_follow_the_site() {
        let site = site(
            "intro = \"We reply within a day.\"\nhidden_fields = [\"funding_type\"]\n\
             [sites.labels]\nsubmit = \"Ask us\"\n",
        );
        let html = FormPage::new(&site, None, &FieldErrors::default(), "k".into())
            .render()
            .expect("renders");
        assert!(html.contains("We reply within a day."));
        assert!(!html.contains("name=\"funding_type\""));
        assert!(html.contains(">Ask us</button>"));
        assert!(
            !html.contains("id=\"consent\""),
            "no consent box unless configured"
        );
        assert!(html.contains("<footer"));
    }

    #[test]
    fn a_retyped_form_keeps_the_message_extra_answers_and_hidden_fields_answered() {
        let site = site("hidden_fields = [\"funding_type\"]\n");
        let typed = RawSubmission::new(vec![
            ("name".into(), "Ann Lee".into()),
            ("message".into(), "Garden room".into()),
            ("funding_type".into(), "chc".into()),
        ]);
        let mut errors = FieldErrors::default();
        errors.add("email", "Give email or phone");
        errors.add("how_did_you_hear", "Too long");
        let extras = vec![("how_did_you_hear".to_owned(), "A friend".to_owned())];
        let page = FormPage::retyped(&site, Some(&typed), &errors, "k".into(), extras);
        let html = page.render().expect("renders");
        assert!(html.contains(">Garden room</textarea>"), "{html}");
        assert!(html.contains("value=\"Ann\"") && html.contains("value=\"Lee\""));
        assert!(html.contains("name=\"funding_type\""), "answered, so shown");
        let tag = input_tag(&html, "extra-0");
        assert!(tag.contains("name=\"how_did_you_hear\""), "{tag}");
        assert!(tag.contains("value=\"A friend\""), "{tag}");
        assert!(tag.contains("aria-describedby=\"extra-0-error\""), "{tag}");
        assert!(html.contains("<label for=\"extra-0\">How did you hear</label>"));
        assert!(
            html.contains("href=\"#extra-0\""),
            "the summary links to the box"
        );
    }

    /// The input tag with `id="{name}"` in the rendered page.
    fn input_tag<'a>(html: &'a str, name: &str) -> &'a str {
        let at = html
            .find(&format!("<input id=\"{name}\""))
            .unwrap_or_else(|| panic!("no input {name}"));
        let end = html[at..].find('>').map_or(html.len(), |e| at + e);
        &html[at..=end]
    }

    #[test]
    fn contact_fields_say_what_browsers_may_autofill() {
        let html = FormPage::new(&site(""), None, &FieldErrors::default(), "k".into())
            .render()
            .expect("renders");
        for (name, autocomplete, input_type) in [
            ("first_name", "given-name", "text"),
            ("last_name", "family-name", "text"),
            ("email", "email", "email"),
            ("phone", "tel", "tel"),
        ] {
            let tag = input_tag(&html, name);
            assert!(
                tag.contains(&format!("autocomplete=\"{autocomplete}\"")),
                "{tag}"
            );
            assert!(tag.contains(&format!("type=\"{input_type}\"")), "{tag}");
        }
        // The honeypot must never be filled in by the browser for the family.
        let honeypot = input_tag(&html, "website");
        assert!(honeypot.contains("autocomplete=\"off\""), "{honeypot}");
    }
}
