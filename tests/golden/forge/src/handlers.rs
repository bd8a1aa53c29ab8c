//! Your tool handlers. mcpgen created this file once and never overwrites it: it is
//! yours. When the spec gains a tool, `mcpgen build` names the method to add here.

use mcpgen_runtime::config::Config;
use mcpgen_runtime::tools::{ToolContext, ToolError, ToolResult};

use crate::tools::{
    AddWebhookInput, CancelPipelineInput, CommentOnIssueInput, CreateBranchInput, CreateIssueInput,
    CreateReleaseInput, DeleteBranchInput, DeployInput, GetIssueInput, GetIssueOutput,
    GetJobLogInput, GetRepositoryInput, GetRepositoryOutput, ListCommitsInput,
    ListEnvironmentsInput, ListIssuesInput, ListMembersInput, ListPipelinesInput,
    ListRepositoriesInput, OpenMergeRequestInput, ReadFileInput, RollbackInput, RunPipelineInput,
    SearchCodeInput, Tools, UpdateIssueInput,
};

/// Implements the spec's `rust` tools. Give it fields for what they share (a database
/// pool, an HTTP client, ...) and build them in [`Handlers::new`].
pub struct Handlers;

impl Handlers {
    /// Called once at start, with the effective configuration (the environment is the
    /// process's own), before the server listens. An error stops the server:
    /// `error: cannot set up the tool handlers: {error}`, exit code 2.
    pub async fn new(config: &Config) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let _ = config;
        Ok(Self)
    }
}

impl Tools for Handlers {
    async fn list_repositories(
        &self,
        input: ListRepositoriesInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`list_repositories` is not implemented yet"))
    }
    async fn get_repository(
        &self,
        input: GetRepositoryInput,
        ctx: ToolContext,
    ) -> Result<GetRepositoryOutput, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`get_repository` is not implemented yet"))
    }
    async fn search_code(
        &self,
        input: SearchCodeInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`search_code` is not implemented yet"))
    }
    async fn read_file(
        &self,
        input: ReadFileInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`read_file` is not implemented yet"))
    }
    async fn list_commits(
        &self,
        input: ListCommitsInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`list_commits` is not implemented yet"))
    }
    async fn create_branch(
        &self,
        input: CreateBranchInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`create_branch` is not implemented yet"))
    }
    async fn open_merge_request(
        &self,
        input: OpenMergeRequestInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new(
            "`open_merge_request` is not implemented yet",
        ))
    }
    async fn list_issues(
        &self,
        input: ListIssuesInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`list_issues` is not implemented yet"))
    }
    async fn get_issue(
        &self,
        input: GetIssueInput,
        ctx: ToolContext,
    ) -> Result<GetIssueOutput, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`get_issue` is not implemented yet"))
    }
    async fn create_issue(
        &self,
        input: CreateIssueInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`create_issue` is not implemented yet"))
    }
    async fn update_issue(
        &self,
        input: UpdateIssueInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`update_issue` is not implemented yet"))
    }
    async fn comment_on_issue(
        &self,
        input: CommentOnIssueInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`comment_on_issue` is not implemented yet"))
    }
    async fn list_pipelines(
        &self,
        input: ListPipelinesInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`list_pipelines` is not implemented yet"))
    }
    async fn get_job_log(
        &self,
        input: GetJobLogInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`get_job_log` is not implemented yet"))
    }
    async fn run_pipeline(
        &self,
        input: RunPipelineInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`run_pipeline` is not implemented yet"))
    }
    async fn cancel_pipeline(
        &self,
        input: CancelPipelineInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`cancel_pipeline` is not implemented yet"))
    }
    async fn list_environments(
        &self,
        input: ListEnvironmentsInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`list_environments` is not implemented yet"))
    }
    async fn deploy(&self, input: DeployInput, ctx: ToolContext) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`deploy` is not implemented yet"))
    }
    async fn rollback(
        &self,
        input: RollbackInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`rollback` is not implemented yet"))
    }
    async fn create_release(
        &self,
        input: CreateReleaseInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`create_release` is not implemented yet"))
    }
    async fn list_members(
        &self,
        input: ListMembersInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`list_members` is not implemented yet"))
    }
    async fn add_webhook(
        &self,
        input: AddWebhookInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`add_webhook` is not implemented yet"))
    }
    async fn delete_branch(
        &self,
        input: DeleteBranchInput,
        ctx: ToolContext,
    ) -> Result<ToolResult, ToolError> {
        let _ = (input, ctx);
        Err(ToolError::new("`delete_branch` is not implemented yet"))
    }
}
