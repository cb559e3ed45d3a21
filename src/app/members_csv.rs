//! A branch's roll as a CSV file, the way a branch keeps it in a spreadsheet: one member per
//! row, with a header naming the columns in English or in Chinese (姓名,手机,入党日期,状态,所在城市).
//! Every row is checked before anything is written; the problems of all rows come back at once,
//! by line, so that the file can be mended in one go.

use crate::model::branches::{MemberStatus, NewMember};
use time::Date;
use time::macros::format_description;

/// The most members one file may hold: a large community party committee has a few thousand.
pub const MAX_MEMBER_ROWS: usize = 10_000;

/// The columns, each with its English and Chinese header.
const COLUMNS: [(&str, &str); 5] = [
    ("name", "姓名"),
    ("phone", "手机"),
    ("joined_on", "入党日期"),
    ("status", "状态"),
    ("city", "所在城市"),
];

/// What is wrong with one row (or the header, line 1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowProblem {
    /// The line in the file, from 1 (the header).
    pub line: u64,
    /// What is wrong, in words.
    pub problem: String,
}

/// Reads a roll. `today` (`YYYY-MM-DD`) bounds the joining dates.
///
/// ```
/// use wangge::app::members_from_csv;
/// use wangge::model::branches::MemberStatus;
/// let csv = "姓名,手机,入党日期,状态,所在城市\n张伟,13800000001,2001-07-01,正式,\n\
///            李娜,13800000002,2010-06-30,流动,深圳\n";
/// let members = members_from_csv(csv, "2026-12-03").unwrap();
/// assert_eq!(members[1].status, MemberStatus::Mobile);
/// assert_eq!(members[1].city.as_deref(), Some("深圳"));
/// let problems = members_from_csv("name,phone,joined_on,status\n张伟,138,2001-02-30,active\n", "2026-12-03")
///     .unwrap_err();
/// assert_eq!(problems.len(), 2, "the phone and the date, both on line 2");
/// ```
pub fn members_from_csv(text: &str, today: &str) -> Result<Vec<NewMember>, Vec<RowProblem>> {
    let header_problem = |problem: String| vec![RowProblem { line: 1, problem }];
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| header_problem(e.to_string()))?
        .clone();
    let column = |(english, chinese): (&str, &str)| {
        headers.iter().position(|h| h == english || h == chinese)
    };
    let positions: Vec<Option<usize>> = COLUMNS.iter().map(|&c| column(c)).collect();
    if let Some(missing) = COLUMNS[..4]
        .iter()
        .zip(&positions)
        .find_map(|(c, p)| p.is_none().then_some(c))
    {
        return Err(header_problem(format!(
            "the header has no column {:?} ({}); it needs name, phone, joined_on, status \
             (and city for mobile members)",
            missing.0, missing.1
        )));
    }
    let mut members = Vec::new();
    let mut problems = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                problems.push(RowProblem {
                    line: index as u64 + 2,
                    problem: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map_or(index as u64 + 2, |p| p.line());
        if members.len() + problems.len() >= MAX_MEMBER_ROWS {
            problems.push(RowProblem {
                line,
                problem: format!("a roll has at most {MAX_MEMBER_ROWS} members"),
            });
            break;
        }
        let cell = |i: usize| {
            positions[i]
                .and_then(|p| record.get(p))
                .filter(|v| !v.is_empty())
        };
        let mut wrong = |problem: String| problems.push(RowProblem { line, problem });
        let name = cell(0).unwrap_or_default();
        if name.is_empty() || name.chars().count() > 64 {
            wrong("a name has 1 to 64 characters".into());
        }
        let phone = cell(1).unwrap_or_default();
        if !valid_phone(phone) {
            wrong(format!(
                "{phone:?} is not a phone number (7 to 20 digits, + - and spaces)"
            ));
        }
        let joined_on = cell(2).unwrap_or_default();
        match Date::parse(joined_on, format_description!("[year]-[month]-[day]")) {
            Ok(_) if joined_on <= today => {}
            Ok(_) => wrong(format!("joined_on {joined_on} is after today")),
            Err(_) => wrong(format!(
                "joined_on {joined_on:?} is not a date like 2001-07-01"
            )),
        }
        let status = match parse_status(cell(3).unwrap_or_default()) {
            Ok(status) => status,
            Err(problem) => {
                wrong(problem);
                continue;
            }
        };
        let city = cell(4).map(str::to_string);
        match (status, &city) {
            (MemberStatus::Mobile, None) => wrong("a mobile member (流动党员) needs a city".into()),
            (MemberStatus::Mobile, Some(c)) if c.chars().count() > 64 => {
                wrong("a city has at most 64 characters".into())
            }
            (MemberStatus::Active | MemberStatus::Transferred, Some(_)) => {
                wrong("only a mobile member has a city".into())
            }
            _ => {}
        }
        members.push(NewMember {
            name: name.to_string(),
            phone: phone.to_string(),
            joined_on: joined_on.to_string(),
            status,
            city,
        });
    }
    if problems.is_empty() {
        Ok(members)
    } else {
        Err(problems)
    }
}

/// 7 to 20 digits, with `+`, `-` and spaces between them.
fn valid_phone(phone: &str) -> bool {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    (7..=20).contains(&digits)
        && phone.len() <= 32
        && phone
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | ' '))
}

/// A status in English or as a branch writes it in Chinese.
fn parse_status(text: &str) -> Result<MemberStatus, String> {
    match text {
        "正式" | "在册" | "正常" => Ok(MemberStatus::Active),
        "流动" | "流动党员" => Ok(MemberStatus::Mobile),
        "转出" | "已转出" => Ok(MemberStatus::Transferred),
        other => other.parse(),
    }
}
