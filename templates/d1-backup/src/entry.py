"""Export and save a D1 database, in Python: a Cron Trigger runs the Worker's scheduled handler,
which starts a workflow that starts an export of the database, polls until the SQL dump is
ready, and stores it in a bucket.

Both steps use the default retry policy (5 retries, 10 seconds doubling each time): the export
not being ready yet is just a failed attempt, retried until it is.
"""

from pathlib import Path

import local_d1
from workers import Response, WorkerEntrypoint, WorkflowEntrypoint

# Local stand-ins (src/local_d1.py) for D1's export REST API and the R2 bucket, keeping their
# data in .data/ in the project.
DATA = Path(__file__).resolve().parent.parent / ".data"
D1_API = local_d1.LocalD1Api(DATA)
BACKUP_BUCKET = local_d1.LocalBucket(DATA / "backups")


class BackupWorkflow(WorkflowEntrypoint):
    async def run(self, event, step):
        account_id = event.payload["accountId"]
        database_id = event.payload["databaseId"]

        @step.do(f"Starting backup for {database_id}")
        async def start_backup():
            response = await D1_API.export(account_id, database_id, {"output_format": "polling"})
            bookmark = (response.get("result") or {}).get("at_bookmark")
            # If we don't get `at_bookmark` we throw to retry the step
            if not bookmark:
                raise Exception("Missing `at_bookmark`")
            return bookmark

        bookmark = await start_backup()

        @step.do("Check backup status and store it on R2")
        async def store_backup():
            response = await D1_API.export(account_id, database_id, {"current_bookmark": bookmark})
            result = response.get("result") or {}
            # The API sends `signed_url` when the backup is ready to download.
            # If we don't get `signed_url` we throw to retry the step.
            if not result.get("signed_url"):
                raise Exception("Missing `signed_url`")
            dump = await D1_API.download(result["signed_url"])
            if dump is None:
                raise Exception("Failed to fetch dump file")
            # Finally, store the file in the bucket
            await BACKUP_BUCKET.put(result["filename"], dump)
            return {"filename": result["filename"], "bytes": len(dump)}

        return await store_backup()


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        # The backups stored so far
        return Response.json({"backups": BACKUP_BUCKET.keys()})

    async def scheduled(self, controller):
        params = {"accountId": self.env.ACCOUNT_ID, "databaseId": self.env.DATABASE_ID}
        instance = await self.env.BACKUP_WORKFLOW.create(params=params)
        print(f"Started workflow: {instance.id}")
