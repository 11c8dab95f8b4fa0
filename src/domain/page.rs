//! Pagination and sort direction (docs/api.md#pagination-sorting-and-search).

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    page: i64,
    limit: i64,
}

/// Largest accepted `page`.
pub const MAX_PAGE: i64 = 1_000_000;
/// Largest accepted `limit`.
pub const MAX_LIMIT: i64 = 100;

impl PageRequest {
    /// Checks the bounds; returns (field, message) on failure.
    pub fn parse(
        page: Option<i32>,
        limit: Option<i32>,
    ) -> Result<Self, Vec<(&'static str, String)>> {
        let page = i64::from(page.unwrap_or(1));
        let limit = i64::from(limit.unwrap_or(20));
        let mut problems = Vec::new();
        if page < 1 {
            problems.push((
                "page",
                "Input should be greater than or equal to 1".to_owned(),
            ));
        } else if page > MAX_PAGE {
            problems.push((
                "page",
                format!("Input should be less than or equal to {MAX_PAGE}"),
            ));
        }
        if limit < 1 {
            problems.push((
                "limit",
                "Input should be greater than or equal to 1".to_owned(),
            ));
        } else if limit > MAX_LIMIT {
            problems.push((
                "limit",
                format!("Input should be less than or equal to {MAX_LIMIT}"),
            ));
        }
        if problems.is_empty() {
            Ok(Self { page, limit })
        } else {
            Err(problems)
        }
    }

    /// The 1-based page number.
    pub fn page(&self) -> i64 {
        self.page
    }

    /// Items per page.
    pub fn limit(&self) -> i64 {
        self.limit
    }

    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.limit
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { page: 1, limit: 20 }
    }
}

/// One page of results and the total matching the filters.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Items matching the filters, across pages.
    pub total: i64,
    /// What was asked for.
    pub request: PageRequest,
}

impl<T> Page<T> {
    /// ceil(total / limit).
    pub fn total_pages(&self) -> i64 {
        (self.total + self.request.limit - 1) / self.request.limit
    }

    /// Converts the items.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            request: self.request,
        }
    }
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_arithmetic() {
        assert!(PageRequest::parse(Some(0), None).is_err());
        assert!(PageRequest::parse(Some(1_000_001), None).is_err());
        assert_eq!(
            PageRequest::parse(None, Some(101)).unwrap_err()[0].0,
            "limit"
        );
        let p = PageRequest::parse(Some(3), Some(10)).unwrap();
        assert_eq!(p.offset(), 20);
        let page = Page {
            items: vec![1],
            total: 21,
            request: p,
        };
        assert_eq!(page.total_pages(), 3);
        let empty: Page<i32> = Page {
            items: vec![],
            total: 0,
            request: p,
        };
        assert_eq!(empty.total_pages(), 0);
    }
}
