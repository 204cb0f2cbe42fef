//! Share levels of workspace ports (for previews); no row means private.

use crate::{Store, StoreError};

impl Store {
    /// The share level of `port` in workspace `ws`, if one was set.
    pub async fn port_share(&self, ws: &str, port: u16) -> Result<Option<String>, StoreError> {
        let r: Option<(String,)> =
            sqlx::query_as("SELECT level FROM port_shares WHERE workspace_id = $1 AND port = $2")
                .bind(ws)
                .bind(i64::from(port))
                .fetch_optional(&self.pool)
                .await?;
        Ok(r.map(|r| r.0))
    }

    /// Every port of `ws` with a share level set.
    pub async fn port_shares(&self, ws: &str) -> Result<Vec<(u16, String)>, StoreError> {
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT port, level FROM port_shares WHERE workspace_id = $1 ORDER BY port",
        )
        .bind(ws)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(p, l)| u16::try_from(p).ok().map(|p| (p, l)))
            .collect())
    }

    /// Sets a port's share level; `None` makes it private again.
    pub async fn set_port_share(
        &self,
        ws: &str,
        port: u16,
        level: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        match level {
            None => {
                sqlx::query("DELETE FROM port_shares WHERE workspace_id = $1 AND port = $2")
                    .bind(ws)
                    .bind(i64::from(port))
                    .execute(&self.pool)
                    .await?;
            }
            Some(level) => {
                sqlx::query(
                    "INSERT INTO port_shares (workspace_id, port, level, updated_at) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, port) \
                     DO UPDATE SET level = $3, updated_at = $4",
                )
                .bind(ws)
                .bind(i64::from(port))
                .bind(level)
                .bind(now)
                .execute(&self.pool)
                .await?;
            }
        }
        Ok(())
    }
}
