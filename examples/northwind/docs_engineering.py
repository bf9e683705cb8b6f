"""Documents of the engineering tenant (paths are relative to documents/)."""

from __future__ import annotations

from examples.northwind.context import Ctx
from examples.northwind.docmodel import Code, Doc, Heading, Para, bullets, doc, table

E = "engineering"

# The open incident on the status page; apply_week_later swaps it for the next one.
STATUS_INCIDENT = "INC-4821"
STATUS_INCIDENT_NEXT = "INC-4907"
STATUS_PAGE = f"{E}/status/service-status.html"


def handbook(ctx: Ctx) -> Doc:
    path = f"{E}/handbook/employee-handbook.docx"
    return doc(
        path,
        "Northwind Employee Handbook",
        Para(
            "This handbook applies to every Northwind Systems employee in the United States, "
            "Canada and Poland. People Operations maintains it; the handbook owner is "
            f"Rebecca Osei, Head of People. Last revised {ctx.edited(path)}."
        ),
        Heading("Working hours"),
        Para(
            "Core collaboration hours run from 10:00 to 15:00 in each employee's local time "
            "zone. Outside the core window schedules are flexible, provided on-call duties "
            "are covered."
        ),
        Heading("Time off"),
        table(
            ["Leave type", "Allowance", "Notes"],
            ["Paid time off", "25 days per year", "Accrues monthly; up to 5 days carry over"],
            ["Public holidays", "11 days", "Country calendar published each December"],
            ["Parental leave", "16 weeks", "Fully paid for all parents"],
            ["Sick leave", "10 days", "No doctor's note for absences up to 3 days"],
            ["Volunteer leave", "2 days", "For registered charities"],
        ),
        Heading("Benefits"),
        bullets(
            "Retirement: 401(k) match of 4% of base salary, vesting immediately.",
            "Learning budget: $1,800 per calendar year for courses, books and conferences.",
            "Laptop refresh cycle: every 3 years, or sooner if the device fails.",
            "Wellness stipend: $75 per month, paid through payroll.",
        ),
        Heading("Probation"),
        Para(
            "New hires have a 90-day probation period with structured check-ins at day 30 "
            "and day 60."
        ),
        Heading("Contacts"),
        Para(
            f"People Operations can be reached at {ctx.fakes.mailbox('people')} or "
            f"{ctx.fakes.phone_local(4420)}."
        ),
    )


def security_policy(ctx: Ctx) -> Doc:
    path = f"{E}/policies/security-policy.pdf"
    return doc(
        path,
        "Information Security Policy (SEC-POL-003)",
        Para(
            f"Policy owner: Diego Alvarez, Head of Security. Version 4.2, approved "
            f"{ctx.edited(path)}. Applies to all employees, contractors and service accounts."
        ),
        Heading("Passwords and authentication"),
        bullets(
            "Passwords must be at least 14 characters long and stored only in the VaultKey "
            "password manager.",
            "Multi-factor authentication is mandatory for every company system; production "
            "access requires a hardware security key.",
            "Passwords are rotated only when compromise is suspected.",
        ),
        Heading("Vulnerability remediation deadlines"),
        table(
            ["Severity", "Remediation deadline", "Tracked in"],
            ["Critical", "72 hours", "SECVULN board"],
            ["High", "14 days", "SECVULN board"],
            ["Medium", "45 days", "Team backlog"],
            ["Low", "120 days", "Team backlog"],
        ),
        Heading("Access management"),
        Para(
            "Access reviews run quarterly for every production system. When someone leaves "
            "the company all access is revoked within 4 hours of the termination time. "
            "Security logs are retained for 400 days."
        ),
        Heading("Reporting"),
        Para(
            "Report a suspected security incident within 1 hour of noticing it, by email to "
            f"{ctx.fakes.mailbox('security')} or by phone on {ctx.fakes.phone(199)}."
        ),
    )


def incident_response(ctx: Ctx) -> Doc:
    path = f"{E}/policies/incident-response-standard.pdf"
    return doc(
        path,
        "Incident Response Standard",
        Para(
            f"Owner: Tomasz Nowak, SRE Lead. Effective {ctx.edited(path)}. This standard "
            "defines severity levels, response times and communication duties."
        ),
        Heading("Severity levels"),
        table(
            ["Level", "Definition", "Acknowledge in", "Update cadence"],
            ["SEV1", "Full outage or data loss", "15 minutes", "every 30 minutes"],
            ["SEV2", "Major degradation", "30 minutes", "every 60 minutes"],
            ["SEV3", "Minor customer impact", "4 business hours", "daily"],
        ),
        Heading("Roles"),
        bullets(
            "The incident commander comes from the SRE on-call rotation.",
            "A communications lead posts to the status page within 20 minutes of a SEV1 "
            "declaration.",
            "A scribe keeps the timeline in the incident channel.",
        ),
        Heading("After the incident"),
        Para(
            "A blameless postmortem is due within 5 business days for every SEV1 and SEV2. "
            "Action items get an owner and a due date and are tracked in the RELIABILITY "
            "project."
        ),
    )


def api_rate_limits(ctx: Ctx) -> Doc:
    path = f"{E}/specs/api-rate-limits.pdf"
    return doc(
        path,
        "Public API Rate Limits",
        Para(
            f"Owner: Aisha Bello (API platform). Last reviewed {ctx.edited(path)}. Limits are "
            "enforced per API key with a token bucket."
        ),
        Heading("Limits by plan"),
        table(
            ["Plan", "Requests/min", "Burst", "Daily quota"],
            ["Route Optimizer Starter", "60", "120", "50,000"],
            ["Fleet Pro", "600", "1,200", "1,000,000"],
            ["Fleet Enterprise", "3,000", "6,000", "unlimited"],
        ),
        Heading("Behaviour when a limit is hit"),
        Para(
            "Requests over the limit receive HTTP 429 with error code RO-4290 and a "
            "Retry-After header in seconds. Every response carries the "
            "X-RateLimit-Remaining header so clients can slow down early."
        ),
        Para(
            "Enterprise customers can request a temporary quota raise for peak season; "
            "raises last at most 21 days."
        ),
    )


def postmortem_4512(ctx: Ctx) -> Doc:
    path = f"{E}/postmortems/INC-4512-payments-gateway-outage.pdf"
    return doc(
        path,
        "Postmortem INC-4512: Payments gateway outage",
        Para(
            f"Date of incident: {ctx.edited(path)}. Severity: SEV1. Incident commander: "
            "Elena Petrova. Duration: 38 minutes."
        ),
        Heading("Impact"),
        Para(
            "2,214 card payments failed with error PAY-5001 and had to be retried by "
            "customers. No payment was captured twice."
        ),
        Heading("Root cause"),
        Para(
            "A configuration change lowered max_pool_size on the payments gateway from 64 "
            "to 8 database connections. Under the Monday morning peak the pool was "
            "exhausted and requests timed out."
        ),
        Heading("Action items"),
        table(
            ["Action", "Owner", "Status"],
            ["Validate pool size in config CI check", "Priya Raman", "Done"],
            ["Alert on pool saturation above 85%", "Owen Gallagher", "Done"],
            ["Load test before config rollouts", "Fatima Zahra", "In progress"],
        ),
    )


def route_optimizer_spec(ctx: Ctx) -> Doc:
    path = f"{E}/specs/route-optimizer-v3-spec.docx"
    return doc(
        path,
        "Route Optimizer v3 Product Specification",
        Para(
            "Product manager: Sofia Rossi. Engineering lead: Kwame Mensah. "
            f"Status: approved on {ctx.edited(path)}."
        ),
        Heading("Goals"),
        bullets(
            "Support mixed fleets of vans, box trucks, cargo bikes and refrigerated trailers.",
            "Honour both soft and hard delivery time windows.",
            "Reach a p95 latency of 800 ms for requests with 200 stops.",
        ),
        Heading("Limits by plan"),
        table(
            ["Plan", "Max stops per request", "Max vehicles", "Solver time budget"],
            ["Route Optimizer Starter", "200", "5", "10 seconds"],
            ["Fleet Pro", "1,000", "50", "30 seconds"],
            ["Fleet Enterprise", "2,500", "400", "45 seconds"],
        ),
        Heading("Milestones"),
        Para(
            "Private beta with 12 design partners, then general availability at the end of "
            "fiscal Q3. The v2 solver is retired 6 months after general availability."
        ),
        Heading("Out of scope"),
        Para("Multi-depot pickups and driver break scheduling are deferred to v3.1."),
    )


def release_process(ctx: Ctx) -> Doc:
    path = f"{E}/process/release-process.docx"
    return doc(
        path,
        "Release Process",
        Para(
            f"Owner: Hannah Okafor, QA Lead and release manager. Last updated {ctx.edited(path)}."
        ),
        Heading("Release train"),
        Para(
            "Releases ship every 2 weeks on Tuesday. Code freeze is at 18:00 UTC on the "
            "Thursday before the release. Hotfixes outside the train need approval from the "
            "on-call engineering manager."
        ),
        Heading("Progressive rollout"),
        table(
            ["Stage", "Traffic share", "Minimum soak time"],
            ["Canary", "5%", "2 hours"],
            ["Early adopters", "25%", "6 hours"],
            ["General", "100%", "none"],
        ),
        Heading("Rollback"),
        Para(
            "Roll back immediately if the HTTP 5xx error rate exceeds 2% for five minutes "
            "during any stage."
        ),
    )


def engineering_ladder(ctx: Ctx) -> Doc:
    path = f"{E}/people/engineering-career-ladder.docx"
    return doc(
        path,
        "Engineering Career Ladder",
        Para(f"Maintained by Priya Raman, Director of Platform Engineering. {ctx.edited(path)}."),
        Heading("Levels"),
        table(
            ["Level", "Title", "Typical scope"],
            ["E1", "Associate Software Engineer", "Well-defined tasks"],
            ["E2", "Software Engineer", "Features within one service"],
            ["E3", "Senior Software Engineer", "A service end to end"],
            ["E4", "Staff Engineer", "Several services or a domain"],
            ["E5", "Senior Staff Engineer", "Engineering-wide initiatives"],
            ["E6", "Principal Engineer", "Company-wide technical direction"],
        ),
        Heading("Promotions"),
        Para(
            "Promotion cycles run twice a year, in April and October. The calibration "
            "committee is chaired by Priya Raman and needs two written peer endorsements."
        ),
    )


def _adr(
    ctx: Ctx, number: str, slug: str, title: str, status: str, deciders: str, *body: Heading | Para
) -> Doc:
    path = f"{E}/adr/ADR-{number}-{slug}.md"
    return doc(
        path,
        f"ADR-{number}: {title}",
        Para(f"Status: {status}. Date: {ctx.edited(path)}. Deciders: {deciders}."),
        *body,
    )


def adrs(ctx: Ctx) -> list[Doc]:
    return [
        _adr(
            ctx,
            "0007",
            "postgresql-route-storage",
            "Use PostgreSQL for route storage",
            "Accepted",
            "Mei Lin Chen, Kwame Mensah",
            Heading("Context"),
            Para(
                "Route plans live in MongoDB 4.4 today. We need multi-row transactions when a "
                "dispatcher edits several routes at once."
            ),
            Heading("Decision"),
            Para(
                "Store route plans in PostgreSQL 16 with the PostGIS 3.4 extension. The "
                "route_plans table is partitioned by month and keeps 18 months of data."
            ),
            Heading("Consequences"),
            Para("The migration runs in three phases; dual writes last until the final cutover."),
        ),
        _adr(
            ctx,
            "0011",
            "grpc-internal-calls",
            "Adopt gRPC for internal service calls",
            "Accepted",
            "Mei Lin Chen, Aisha Bello",
            Heading("Decision"),
            Para(
                "Internal service-to-service calls use gRPC with protobuf schemas kept in the "
                "nw-protos repository. The default client deadline is 2 seconds. The public "
                "API stays REST."
            ),
            Heading("Consequences"),
            Para("Every service publishes a health check over gRPC on port 9090."),
        ),
        _adr(
            ctx,
            "0014",
            "opentelemetry-tracing",
            "Move tracing to OpenTelemetry",
            "Accepted",
            "Tomasz Nowak",
            Heading("Decision"),
            Para(
                "Replace Zipkin with OpenTelemetry. Traces are sampled head-based at 10%, "
                "while traces containing errors are always kept. The collector runs as a "
                "DaemonSet on every node."
            ),
        ),
        _adr(
            ctx,
            "0019",
            "kafka-retention",
            "Kafka topic retention",
            "Accepted",
            "Lars Eriksson",
            Heading("Decision"),
            bullets(
                "Vehicle tracking events are retained for 7 days.",
                "Billing events are retained for 30 days.",
                "The vehicle-positions topic has 48 partitions.",
            ),
        ),
        _adr(
            ctx,
            "0022",
            "feature-flags",
            "Feature flags with Unleash",
            "Proposed",
            "Priya Raman",
            Heading("Decision"),
            Para(
                "Adopt a self-hosted Unleash server for feature flags. Any flag older than "
                "90 days must be removed or converted into configuration."
            ),
        ),
    ]


def oncall_rota(ctx: Ctx) -> Doc:
    path = f"{E}/oncall/rota.md"
    return doc(
        path,
        "SRE On-call Rota",
        Para(
            "Rotation weeks run from Monday 09:00 UTC to the following Monday 09:00 UTC. "
            f"Last updated {ctx.edited(path, changing=True)}."
        ),
        Heading(f"This week (starting {ctx.week_start()})"),
        table(
            ["Role", "Engineer", "Phone"],
            ["Primary", "Jonas Weber", ctx.fakes.phone(131)],
            ["Secondary", "Elena Petrova", ctx.fakes.phone(132)],
            ["Incident commander", "Tomasz Nowak", ctx.fakes.phone(130)],
        ),
        Heading("Upcoming weeks"),
        table(
            ["Week", "Primary", "Secondary"],
            ["+1", "Elena Petrova", "Owen Gallagher"],
            ["+2", "Owen Gallagher", "Fatima Zahra"],
            ["+3", "Fatima Zahra", "Jonas Weber"],
        ),
        Heading("Rules"),
        bullets(
            "Unacknowledged pages escalate to the secondary after 10 minutes.",
            "Swap requests go to the #sre-oncall channel at least 48 hours ahead.",
        ),
        changing=True,
    )


def weekly_sync(ctx: Ctx) -> Doc:
    path = f"{E}/meetings/weekly-engineering-sync.md"
    return doc(
        path,
        "Weekly Engineering Sync",
        Para(
            f"Date: {ctx.edited(path, changing=True)}. Chair: Priya Raman. Attendees: Kwame "
            "Mensah, Aisha Bello, Tomasz Nowak, Hannah Okafor, Lars Eriksson."
        ),
        Heading("Metrics"),
        bullets(
            "Route Optimizer p95 latency: 412 ms against the 800 ms target.",
            "Deploys last week: 37.",
            "Open SEV2 incidents: 1.",
        ),
        Heading("Decisions"),
        bullets(
            "The Kafka 3.7 upgrade is postponed by two weeks.",
            "Code freeze for release 2.16 starts on Thursday as planned.",
        ),
        Heading("Action items"),
        bullets(
            "Aisha Bello: rotate the webhook signing secrets by Friday.",
            "Lars Eriksson: backfill the route_events_daily warehouse table.",
            "Hannah Okafor: publish the regression report for release 2.16.",
        ),
        changing=True,
    )


def postmortem_4630(ctx: Ctx) -> Doc:
    path = f"{E}/postmortems/INC-4630-tracking-webhook-backlog.md"
    return doc(
        path,
        "Postmortem INC-4630: Tracking webhook backlog",
        bullets(
            f"Date: {ctx.edited(path)}",
            "Severity: SEV2",
            "Incident commander: Jonas Weber",
            "Duration: 2 hours 47 minutes",
        ),
        Heading("Impact"),
        Para(
            "About 1,930 customers received tracking webhooks late; the longest delay was "
            "96 minutes. No events were lost."
        ),
        Heading("Root cause"),
        Para(
            "The TLS certificate on the internal queue broker mq-track-02 expired, so "
            "publishers could not reconnect after a routine restart."
        ),
        Heading("Action items"),
        table(
            ["Action", "Owner", "Due"],
            ["Alert 21 days before any certificate expires", "Owen Gallagher", "done"],
            ["Automate broker certificate renewal", "Jonas Weber", "next sprint"],
        ),
    )


def dev_setup(ctx: Ctx) -> Doc:
    path = f"{E}/onboarding/dev-environment-setup.md"
    token = ctx.fakes.github_token("docs-dev-setup")
    return doc(
        path,
        "Developer Environment Setup",
        Para(f"Maintained by Aisha Bello. Last checked {ctx.edited(path)}."),
        Heading("Prerequisites"),
        bullets(
            "Python 3.11 and Docker Desktop 4.30 or newer.",
            "Run make bootstrap once; it creates the northwind_dev database.",
            "The API listens locally on port 8443.",
        ),
        Heading("Access to the protobuf mirror"),
        Para(
            "Until SSO for the mirror lands, use the shared CI token below (to be rotated "
            "after the migration):"
        ),
        Code(f"export GITHUB_TOKEN={token}"),
        Heading("Getting help"),
        Para(
            "Ask in the #eng-onboarding channel or call the IT helpdesk on "
            f"{ctx.fakes.phone_local(3300)}. Every new engineer gets an onboarding buddy for "
            "their first 6 weeks."
        ),
    )


def postmortem_4377(ctx: Ctx) -> Doc:
    path = f"{E}/postmortems/INC-4377-dns-misconfiguration.txt"
    return doc(
        path,
        "Postmortem INC-4377: DNS misconfiguration",
        Para(
            f"Date: {ctx.edited(path)}. Severity: SEV1. Incident commander: Elena Petrova. "
            "Duration: 52 minutes."
        ),
        Heading("Summary"),
        Para(
            "A DNS change for api.northwind.example was published with a TTL of 86400 "
            "seconds instead of 300 and pointed at a decommissioned load balancer."
        ),
        Heading("Detection"),
        Para("Synthetic monitoring detected the failure within 4 minutes."),
        Heading("Follow-up"),
        bullets(
            "DNS changes now require a second reviewer from SRE.",
            "Maximum TTL for API records is capped at 300 seconds.",
        ),
    )


def deploy_runbook(ctx: Ctx) -> Doc:
    path = f"{E}/runbooks/deploy-runbook.txt"
    key_id = ctx.fakes.aws_key_id("docs-deploy-runbook")
    secret = ctx.fakes.aws_secret_key("docs-deploy-runbook-secret")
    return doc(
        path,
        "Deploy Runbook",
        Para(f"Owner: Tomasz Nowak. Reviewed {ctx.edited(path)}."),
        Heading("Deploy windows"),
        bullets(
            "Monday to Thursday, 14:00 to 20:00 UTC.",
            "No deploys on Fridays after 12:00 UTC.",
            "Deploys use the shipit tool; shipit rollback restores the previous build.",
        ),
        Heading("Legacy artifact bucket"),
        Para("The nw-artifacts-legacy bucket still needs static credentials until it is retired:"),
        Code(f"AWS_ACCESS_KEY_ID={key_id}\nAWS_SECRET_ACCESS_KEY={secret}"),
    )


def bastion_access(ctx: Ctx) -> Doc:
    path = f"{E}/runbooks/bastion-access.txt"
    return doc(
        path,
        "Bastion Access",
        Para(
            "The bastion host bastion-1.northwind.internal accepts SSH on port 2222. "
            "Idle sessions are closed after 15 minutes. Access requests are approved by "
            f"Diego Alvarez. Reviewed {ctx.edited(path)}."
        ),
        Heading("Break-glass key"),
        Para("Use only when SSO is down, and report every use to Security."),
        Code(ctx.fakes.rsa_private_key("docs-bastion")),
    )


def database_failover(ctx: Ctx) -> Doc:
    path = f"{E}/runbooks/database-failover.txt"
    return doc(
        path,
        "Database Failover Runbook",
        Para(f"Owner: Tomasz Nowak. Reviewed {ctx.edited(path)}."),
        Heading("When to fail over"),
        Para(
            "Fail over the pg-routes-prod cluster only if the primary is unreachable for "
            "more than 3 minutes and replication lag on the standby is below 30 seconds."
        ),
        Heading("Steps"),
        bullets(
            "Announce the failover in #incidents.",
            "Run pgctl promote on the standby pg-routes-prod-b.",
            "Repoint the routes-db DNS record.",
            "Confirm writes succeed from platform-api.",
        ),
        Heading("Expectations"),
        Para("A failover takes about 6 minutes end to end."),
    )


def escalation_contacts(ctx: Ctx) -> Doc:
    path = f"{E}/oncall/escalation-contacts.txt"
    f = ctx.fakes
    return doc(
        path,
        "Escalation Contacts",
        Para(f"Reviewed {ctx.edited(path)}."),
        table(
            ["Area", "Contact", "Email", "Phone"],
            ["Platform", "Priya Raman", f.email("Priya Raman"), f.phone(110)],
            ["Routing", "Kwame Mensah", f.email("Kwame Mensah"), f.phone(111)],
            ["SRE", "Tomasz Nowak", f.email("Tomasz Nowak"), f.phone_local(2345)],
            ["Security", "Diego Alvarez", f.email("Diego Alvarez"), f.phone_local(2346)],
        ),
        Para("Cloud vendor escalation: Cloudspan Hosting support contract CS-88213."),
    )


def service_status(ctx: Ctx, *, incident: str = STATUS_INCIDENT) -> Doc:
    return doc(
        STATUS_PAGE,
        "Northwind Service Status",
        Para(f"Last updated {ctx.edited(STATUS_PAGE, changing=True)} 16:00 UTC."),
        Heading("Current status"),
        table(
            ["Service", "Status", "30-day uptime"],
            ["Route Optimizer API", "Degraded performance", "99.93%"],
            ["Tracking Webhooks", "Operational", "99.71%"],
            ["Dispatch Console", "Operational", "99.98%"],
            ["Payments Gateway", "Operational", "99.99%"],
            ["Identity Service", "Operational", "99.995%"],
        ),
        Heading("Active incident"),
        Para(f"Active incident: {incident}, elevated solver latency on the Route Optimizer API."),
        Heading("Scheduled maintenance"),
        Para("Saturday 02:00-04:00 UTC: database minor version upgrade for pg-routes-prod."),
        changing=True,
    )


def error_codes(ctx: Ctx) -> Doc:
    path = f"{E}/reference/error-codes.html"
    return doc(
        path,
        "API Error Codes",
        Para(f"Owner: Aisha Bello. Last reviewed {ctx.edited(path)}."),
        table(
            ["Code", "HTTP status", "Meaning", "Retry"],
            ["RO-4001", "400", "Invalid depot coordinates", "No"],
            ["RO-4002", "400", "Too many stops in one request", "No"],
            ["RO-4290", "429", "Rate limit exceeded", "After Retry-After"],
            ["RO-5030", "503", "Solver timeout", "With backoff"],
            ["PAY-4021", "402", "Card declined by issuer", "No"],
            ["PAY-5001", "502", "Payments gateway unavailable", "Yes"],
            ["TRK-4040", "404", "Unknown vehicle ID", "No"],
            ["AUTH-4011", "401", "Expired session token", "Refresh the token first"],
        ),
    )


def platform_overview(ctx: Ctx) -> Doc:
    path = f"{E}/architecture/platform-overview.html"
    return doc(
        path,
        "Platform Architecture Overview",
        Para(f"Author: Mei Lin Chen, Staff Engineer. Last reviewed {ctx.edited(path)}."),
        Heading("Regions"),
        Para(
            "Production runs in us-east-2 with a warm standby in eu-west-1. The recovery "
            "point objective is 15 minutes and the recovery time objective is 4 hours."
        ),
        Heading("Components"),
        table(
            ["Component", "Technology", "Owner"],
            ["API gateway", "Envoy 1.29", "Aisha Bello"],
            ["Route solver", "atlas-solver (Rust)", "Kwame Mensah"],
            ["Event bus", "Kafka 3.6", "Lars Eriksson"],
            ["Primary database", "PostgreSQL 16", "Mei Lin Chen"],
            ["Cache", "Redis 7.2", "Owen Gallagher"],
            ["CDN", "EdgeFront", "Owen Gallagher"],
        ),
    )


def service_catalog(ctx: Ctx) -> Doc:
    path = f"{E}/services/service-catalog.html"
    return doc(
        path,
        "Service Catalog",
        Para(f"Reviewed {ctx.edited(path)}."),
        table(
            ["Service", "Tier", "Owner", "Repository"],
            ["payments-gateway", "Tier 1", "Priya Raman", "payments-gateway"],
            ["route-optimizer-api", "Tier 1", "Kwame Mensah", "platform-api"],
            ["tracking-webhooks", "Tier 2", "Aisha Bello", "platform-api"],
            ["identity-service", "Tier 1", "Diego Alvarez", "identity"],
            ["notification-hub", "Tier 3", "Fatima Zahra", "notification-hub"],
            ["warehouse-loader", "Tier 3", "Lars Eriksson", "data-pipelines"],
            ["billing-service", "Tier 1", "Benjamin Cohen", "billing-service"],
        ),
        Heading("Tier definitions"),
        bullets(
            "Tier 1: 99.95% availability objective, paged 24/7.",
            "Tier 2: 99.9% availability objective, paged 07:00-22:00 UTC.",
            "Tier 3: 99.5% availability objective, handled next business day.",
        ),
    )


def engineering_docs(ctx: Ctx) -> list[Doc]:
    return [
        handbook(ctx),
        security_policy(ctx),
        incident_response(ctx),
        api_rate_limits(ctx),
        postmortem_4512(ctx),
        route_optimizer_spec(ctx),
        release_process(ctx),
        engineering_ladder(ctx),
        *adrs(ctx),
        oncall_rota(ctx),
        weekly_sync(ctx),
        postmortem_4630(ctx),
        dev_setup(ctx),
        postmortem_4377(ctx),
        deploy_runbook(ctx),
        bastion_access(ctx),
        database_failover(ctx),
        escalation_contacts(ctx),
        service_status(ctx),
        error_codes(ctx),
        platform_overview(ctx),
        service_catalog(ctx),
    ]
