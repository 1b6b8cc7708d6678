//! Page forms (issue 14, item 2): the one way a page form that was refused is shown again —
//! inside the normal layout, with everything the person typed kept and the reason next to the
//! field it is about — so no page loses an inspector's write-up to a bare error page.
//!
//! A handler takes the form as pairs (`Form<Vec<(String, String)>>`), wraps them in [`Kept`]
//! and builds its input from [`Kept::get`]; a write that is refused as invalid (422, see
//! [`Kept::outcome`]) comes back as the same `Kept` carrying the refusal, which the handler
//! gives to the page function that renders the form (status [`Kept::status`]). The template
//! fills each input from [`Kept::value_or`] and shows `{% call m::field_error(form, "name") %}`
//! beside it (macros.html). A page with several forms names the refused one
//! ([`Kept::of`]), so the others stay as they were. The service's field names (API names such
//! as `problems[1].deadline`) are mapped to the page's input names by the handler's closure
//! given to [`Kept::outcome_as`].

use axum::http::StatusCode;

use crate::kernel::error::{AppError, AppResult};
use crate::kernel::web::PageError;

/// A page form's input, kept to show the form again, and the reason it was refused (if it was).
#[derive(Debug, Clone, Default)]
pub struct Kept {
    form: String,
    values: Vec<(String, String)>,
    message: Option<String>,
    field: Option<String>,
    field_message: String,
    /// A conflict with what is on record (409) rather than invalid input (422).
    conflict: bool,
}

/// The nothing-typed, nothing-refused form (what [`Kept::of`] gives for another form).
static EMPTY: Kept = Kept {
    form: String::new(),
    values: Vec::new(),
    message: None,
    field: None,
    field_message: String::new(),
    conflict: false,
};

impl Kept {
    /// A form shown for the first time: no input, no refusal.
    pub fn none() -> Kept {
        Kept::default()
    }

    /// The input of the page's form named `form` as sent (the pairs of
    /// `Form<Vec<(String, String)>>`).
    pub fn input(form: &str, values: Vec<(String, String)>) -> Kept {
        Kept {
            form: form.to_string(),
            values,
            ..Kept::default()
        }
    }

    /// The same input without `name` (a value never shown again, such as an ID number).
    pub fn without(mut self, name: &str) -> Kept {
        self.values.retain(|(k, _)| k != name);
        self
    }

    /// The value sent for `name` (the first, if sent more than once), else "".
    pub fn get(&self, name: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every pair as sent, in order (forms whose input names carry ids: `t_12`).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.values
    }

    /// Every value sent for `name` (multi-selects, checkbox lists).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Was `name` sent at all (a ticked checkbox)?
    pub fn has(&self, name: &str) -> bool {
        self.values.iter().any(|(k, _)| k == name)
    }

    /// The value to put in an input: what was typed when the form is shown again after a
    /// refusal, else `initial` (the form's normal starting value).
    pub fn value_or<'a>(&'a self, name: &str, initial: &'a str) -> &'a str {
        if self.refused() {
            self.get(name)
        } else {
            initial
        }
    }

    /// [`Kept::value_or`] with an empty start.
    pub fn value(&self, name: &str) -> &str {
        self.value_or(name, "")
    }

    /// Is the option `option` of the select `name` the chosen one? After a refusal, the one
    /// sent; otherwise `initial` decides.
    pub fn selected(&self, name: &str, option: &str, initial: bool) -> bool {
        if self.refused() {
            self.get(name) == option
        } else {
            initial
        }
    }

    /// Is the checkbox `name` ticked? After a refusal, as sent; otherwise `initial`.
    pub fn checked(&self, name: &str, initial: bool) -> bool {
        if self.refused() {
            self.has(name)
        } else {
            initial
        }
    }

    /// This form's state if it is the page's form `form`, else the empty one (a page with
    /// several forms shows the input and the reason only in the form that was sent).
    pub fn of(&self, form: &str) -> &Kept {
        if self.form == form { self } else { &EMPTY }
    }

    /// This form's state if it is the form `form` of the list row `id` (a form per row, named
    /// `form-id`: the answer form of one rectification among many), else the empty one.
    pub fn row(&self, form: &str, id: &i64) -> &Kept {
        match self
            .form
            .strip_prefix(form)
            .and_then(|r| r.strip_prefix('-'))
        {
            Some(n) if n == id.to_string() => self,
            _ => &EMPTY,
        }
    }

    /// This form's state if the value sent for `name` is `value`, else the empty one (several
    /// forms of one row told apart by a hidden input: the task form of one need of a visit).
    pub fn when(&self, name: &str, value: impl std::fmt::Display) -> &Kept {
        if self.get(name) == value.to_string() {
            self
        } else {
            &EMPTY
        }
    }

    /// Was the input refused?
    pub fn refused(&self) -> bool {
        self.message.is_some()
    }

    /// The whole reason, with the field's Chinese label (the alert above the form).
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The reason beside the input `name`, when the refusal is about that input.
    pub fn error(&self, name: &str) -> Option<&str> {
        match &self.field {
            Some(f) if f == name => Some(self.field_message.as_str()),
            _ => None,
        }
    }

    /// 422 when the form is shown again with its reason (409 when the reason is a conflict
    /// with what is on record: a duplicate name), else 200.
    pub fn status(&self) -> StatusCode {
        if self.conflict {
            StatusCode::CONFLICT
        } else if self.refused() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        }
    }

    /// The same input, refused for `e` (its message; its first field, renamed to the page's
    /// input name by `input_name`, gets the message beside it).
    pub fn refuse_as(mut self, e: &AppError, input_name: impl Fn(&str) -> String) -> Kept {
        self.message = Some(e.message.clone());
        self.conflict = e.status() == StatusCode::CONFLICT;
        if let Some(f) = e.fields.first() {
            self.field = Some(input_name(&f.field));
            self.field_message = f.message.clone();
        }
        self
    }

    /// [`Kept::refuse_as`] where the page's input names are the service's field names.
    pub fn refuse(self, e: &AppError) -> Kept {
        self.refuse_as(e, str::to_string)
    }

    /// A refusal that is not about one field (e.g. parsed before the service was called).
    pub fn refuse_msg(mut self, field: Option<&str>, message: &str) -> Kept {
        self.message = Some(message.to_string());
        if let Some(f) = field {
            self.field = Some(f.to_string());
            self.field_message = message.to_string();
        }
        self
    }

    /// A write's result, split the way the page answers it: `Ok(Ok(value))` done;
    /// `Ok(Err(kept))` refused ([`is_refusal`]: 422 or 409) — show the form again with `kept`; `Err` any
    /// other failure (not found, forbidden, …), for the error page.
    pub fn outcome<T>(self, result: AppResult<T>) -> Result<Result<T, Kept>, PageError> {
        self.outcome_as(result, str::to_string)
    }

    /// [`Kept::outcome`] with the service's field names mapped to the page's input names.
    pub fn outcome_as<T>(
        self,
        result: AppResult<T>,
        input_name: impl Fn(&str) -> String,
    ) -> Result<Result<T, Kept>, PageError> {
        match result {
            Ok(v) => Ok(Ok(v)),
            Err(e) if is_refusal(&e) => Ok(Err(self.refuse_as(&e, input_name))),
            Err(e) => Err(e.into()),
        }
    }
}

/// Is this error a refusal of the input (shown with the form again) rather than a failure?
/// Invalid input (422) and a conflict with what is on record (409: a duplicate, an
/// observation already running) both are: the person corrects the form and sends it again.
pub fn is_refusal(e: &AppError) -> bool {
    matches!(
        e.status(),
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstop_core::error::ErrorCode;

    #[test]
    fn refused_input_is_kept_with_the_reason_beside_the_field() {
        let sent = vec![
            ("unit".to_string(), "440115001".to_string()),
            ("p2_deadline".to_string(), "2020-01-01".to_string()),
        ];
        let e = AppError::field(
            ErrorCode::Validation,
            "problems[1].deadline",
            "整改期限不能早于今天",
        );
        assert_eq!(e.message, "第 2 条问题的整改期限：整改期限不能早于今天");
        let kept = Kept::input("inspection", sent)
            .outcome_as::<()>(Err(e), |f| match f {
                "problems[1].deadline" => "p2_deadline".into(),
                o => o.into(),
            })
            .ok()
            .and_then(Result::err)
            .expect("refused");
        assert_eq!(kept.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(kept.value("unit"), "440115001");
        assert_eq!(kept.error("p2_deadline"), Some("整改期限不能早于今天"));
        assert_eq!(kept.error("unit"), None);
        assert!(kept.of("shortage").message().is_none());
        assert_eq!(kept.of("inspection").value_or("unit", "x"), "440115001");
        assert_eq!(Kept::none().value_or("unit", "x"), "x");
        let other = Kept::none().outcome::<()>(Err(AppError::not_found()));
        assert!(other.is_err());
    }
}
