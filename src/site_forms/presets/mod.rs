//! Presets: the payload shapes the WordPress form builders send by webhook,
//! one file each. A preset gives the fields a builder names the same on
//! every form (mapped onto ours unless the hook maps that field itself),
//! what it adds that is no answer of the family's (its entry's metadata, the
//! visitor's address), and where its entry id is, so a re-send is stored once.

mod contact_form_7;
mod elementor;
mod fluent_forms;
mod gravity_forms;
mod ninja_forms;
mod wpforms;

use super::field_map::FieldMap;

/// What one builder sends.
#[derive(Debug)]
pub struct Shape {
    /// `(their name, our name)`; several names for one of ours are tried in
    /// order (Elementor's simple data is keyed by label, its advanced data by id).
    pub defaults: &'static [(&'static str, &'static str)],
    /// Paths never copied into the message (`meta`, `_wpcf7*`).
    pub ignore: &'static [&'static str],
    /// Where the builder puts its entry id, when it sends one.
    pub entry_id: Option<&'static str>,
}

/// A builder whose payload shape we know, by its name in the config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Preset {
    GravityForms,
    Wpforms,
    Elementor,
    ContactForm7,
    NinjaForms,
    FluentForms,
}

impl Preset {
    pub const ALL: &[Preset] = &[
        Preset::GravityForms,
        Preset::Wpforms,
        Preset::Elementor,
        Preset::ContactForm7,
        Preset::NinjaForms,
        Preset::FluentForms,
    ];

    /// The name used in the config file (`preset = "gravity_forms"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::GravityForms => "gravity_forms",
            Preset::Wpforms => "wpforms",
            Preset::Elementor => "elementor",
            Preset::ContactForm7 => "contact_form_7",
            Preset::NinjaForms => "ninja_forms",
            Preset::FluentForms => "fluent_forms",
        }
    }

    pub fn shape(self) -> &'static Shape {
        match self {
            Preset::GravityForms => &gravity_forms::SHAPE,
            Preset::Wpforms => &wpforms::SHAPE,
            Preset::Elementor => &elementor::SHAPE,
            Preset::ContactForm7 => &contact_form_7::SHAPE,
            Preset::NinjaForms => &ninja_forms::SHAPE,
            Preset::FluentForms => &fluent_forms::SHAPE,
        }
    }

    /// The preset's default map.
    pub fn defaults(self) -> FieldMap {
        FieldMap::new(
            (self.shape().defaults.iter())
                .map(|(t, o)| ((*t).to_owned(), (*o).to_owned()))
                .collect(),
        )
    }
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let found = Preset::ALL
            .iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text));
        found.copied().ok_or_else(|| {
            let names: Vec<&str> = Preset::ALL.iter().map(|p| p.as_str()).collect();
            format!(
                "\"{text}\" is not a preset; expected one of: {}",
                names.join(", ")
            )
        })
    }
}
