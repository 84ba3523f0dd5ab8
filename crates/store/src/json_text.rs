//! JSON text of the log's steps and changes (see `roster_scim::json_text`),
//! written on every provisioning write.

use crate::logs::{ModifiedProperty, Step};
use roster_scim::json_text::{write_field, write_list, write_string, JsonText};
use std::fmt::Write;

pub(crate) use roster_scim::json_text::json_text;

impl JsonText for Step {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"step\":");
        write_string(out, &self.step);
        write_field(out, "outcome");
        write_string(out, &self.outcome);
        out.push('}');
    }
}

impl JsonText for ModifiedProperty {
    fn write_json(&self, out: &mut String) {
        out.push_str("{\"name\":");
        write_string(out, &self.name);
        // A value that was not there before (every value of a create) is read
        // back as null: the text leaves it out.
        if !self.old.is_null() {
            write_field(out, "old");
            self.old.write_json(out);
        }
        write_field(out, "new");
        self.new.write_json(out);
        if let Some(added) = &self.added {
            write_field(out, "added");
            write_list(out, added);
        }
        if let Some(removed) = &self.removed {
            write_field(out, "removed");
            write_list(out, removed);
        }
        for (name, count) in [("addedCount", self.added_count), ("removedCount", self.removed_count)] {
            if let Some(n) = count {
                write_field(out, name);
                let _ = write!(out, "{n}");
            }
        }
        out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use super::json_text;
    use crate::logs::{ModifiedProperty, Step};
    use serde_json::{json, Value};

    #[test]
    fn writes_log_steps_and_changes_as_serde_json_does() {
        let texts = ["", "plain", "a \"quoted\" word", "back\\slash", "line\nbreak\u{1}", "émoji 👩‍💻"];
        let steps: Vec<Step> = texts.iter().map(|s| Step::new(s, format!("outcome of {s}"))).collect();
        assert_eq!(json_text(&steps, 0), serde_json::to_string(&steps).unwrap());
        let mut changes: Vec<ModifiedProperty> =
            texts.iter().map(|s| ModifiedProperty::new(s, Value::Null, json!({"value": s}))).collect();
        changes.push(ModifiedProperty::members(vec!["a\"1".into(), "b".into()], Vec::new(), (12, 0)));
        changes.push(ModifiedProperty { added: Some(Vec::new()), ..ModifiedProperty::new("x", 1, 2.5) });
        let text = json_text(&changes, 0);
        assert_eq!(serde_json::from_str::<Vec<ModifiedProperty>>(&text).unwrap(), changes);
        // An old value of null is left out; a present one is written as serde_json writes it.
        assert!(!text.contains("\"old\":null"), "{text}");
        let mut with_old = changes.clone();
        with_old.iter_mut().for_each(|c| c.old = json!("before"));
        assert_eq!(json_text(&with_old, 0), serde_json::to_string(&with_old).unwrap());
        assert_eq!(json_text(&Vec::<Step>::new(), 0), "[]");
    }
}
