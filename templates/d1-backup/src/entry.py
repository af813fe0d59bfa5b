"""Export and save a D1 database, in Python: a Cron Trigger runs the Worker's scheduled handler,
which starts a workflow that starts an export of the database, polls until the SQL dump is
ready, and stores it in an R2 bucket.

Both steps use the default retry policy (5 retries, 10 seconds doubling each time): the export
not being ready yet is just a failed attempt, retried until it is.
"""

from pathlib import Path

from d1_export_api import LocalD1ExportApi
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint

# Export jobs and dumps of the local export API stand-in (src/d1_export_api.py)
DATA = Path(__file__).resolve().parent.parent / ".data"


class BackupWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        account_id = event.payload["accountId"]
        database_id = event.payload["databaseId"]
        # On Cloudflare, each D1_API.export(...) below is a `fetch` to
        # https://api.cloudflare.com/client/v4/accounts/{account_id}/d1/database/{database_id}/export
        # with an API token; locally it is the stand-in in src/d1_export_api.py, which exports
        # the database bound as self.env.DB.
        d1_api = LocalD1ExportApi(self.env.DB, self.env.DATABASE_ID, DATA)

        @step.do(f"Starting backup for {database_id}")
        async def start_backup():
            response = await d1_api.export(account_id, database_id, {"output_format": "polling"})
            bookmark = (response.get("result") or {}).get("at_bookmark")
            # If we don't get `at_bookmark` we throw to retry the step
            if not bookmark:
                raise Exception("Missing `at_bookmark`")
            return bookmark

        bookmark = await start_backup()

        @step.do("Check backup status and store it on R2")
        async def store_backup():
            response = await d1_api.export(account_id, database_id, {"current_bookmark": bookmark})
            result = response.get("result") or {}
            # The API sends `signed_url` when the backup is ready to download.
            # If we don't get `signed_url` we throw to retry the step.
            if not result.get("signed_url"):
                raise Exception("Missing `signed_url`")
            dump = await d1_api.download(result["signed_url"])
            if dump is None:
                raise Exception("Failed to fetch dump file")
            # Finally, store the file in the R2 bucket
            await self.env.BACKUP_BUCKET.put(result["filename"], dump)
            return {"filename": result["filename"], "bytes": len(dump)}

        return await store_backup()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        # The backups stored so far
        listed = await self.env.BACKUP_BUCKET.list()
        return Response.json({"backups": [stored.key for stored in listed.objects]})

    async def scheduled(self, controller):
        params = {"accountId": self.env.ACCOUNT_ID, "databaseId": self.env.DATABASE_ID}
        instance = await self.env.BACKUP_WORKFLOW.create(params=params)
        print(f"Started workflow: {instance.id}")
