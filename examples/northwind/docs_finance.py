"""Documents of the finance tenant (paths are relative to documents/)."""

from __future__ import annotations

from examples.northwind.context import Ctx
from examples.northwind.docmodel import Code, Doc, Heading, Para, bullets, doc, table

F = "finance"

# The list price that apply_week_later raises, in a document that is otherwise long stable.
PRICE_LIST = f"{F}/pricing/price-list.html"
FLEET_PRO_PRICE = "$1,450"
FLEET_PRO_PRICE_NEXT = "$1,525"


def price_list(ctx: Ctx, *, fleet_pro_price: str = FLEET_PRO_PRICE) -> Doc:
    return doc(
        PRICE_LIST,
        "Northwind Price List",
        Para(
            "List prices in USD. Pricing owner: Victor Santos (FP&A). "
            f"Effective {ctx.edited(PRICE_LIST)}."
        ),
        Heading("Subscriptions and add-ons"),
        table(
            ["SKU", "Product", "List price", "Billing unit"],
            ["NW-RO-100", "Route Optimizer Starter", "$390", "per month"],
            ["NW-FLT-200", "Fleet Pro", fleet_pro_price, "per month"],
            ["NW-FLT-300", "Fleet Enterprise", "$4,800", "per month"],
            ["NW-TRK-050", "Live Tracking Add-on", "$2.40", "per vehicle per month"],
            ["NW-DSP-120", "Dispatch Console", "$760", "per month"],
            ["NW-WHS-410", "Warehouse Sync Connector", "$1,100", "per month"],
            ["NW-SUP-900", "Premium Support", "18% of annual subscription", "per year"],
            ["NW-ONB-010", "Guided Onboarding", "$6,500", "one-time"],
        ),
        Heading("Notes"),
        bullets(
            "Implementation fees are waived for annual contracts above $50,000.",
            "Existing customers get 60 days notice before any price change.",
        ),
    )


def discount_schedule(ctx: Ctx) -> Doc:
    path = f"{F}/pricing/discount-schedule.pdf"
    return doc(
        path,
        "Discount Schedule and Quote Rules",
        Para(f"Owner: Victor Santos. Effective {ctx.edited(path)}."),
        Heading("Approval matrix"),
        table(
            ["Annual contract value", "Max discount", "Approver"],
            ["Up to $25,000", "5%", "Account Executive"],
            ["$25,001 to $100,000", "12%", "Sales Director"],
            ["$100,001 to $500,000", "20%", "VP Sales"],
            ["Above $500,000", "over 20%", "CFO Margaret Holloway"],
        ),
        Heading("Standing discounts"),
        bullets(
            "Annual prepayment: 8% off the list price.",
            "Registered nonprofits: 15% off the list price.",
            "Three-year contracts lock list prices for the full term.",
        ),
        Heading("Quotes"),
        Para(f"Quotes are valid for 30 days. Questions go to {ctx.fakes.mailbox('deal-desk')}."),
    )


def travel_policy(ctx: Ctx) -> Doc:
    path = f"{F}/policies/travel-policy.docx"
    return doc(
        path,
        "Travel Policy",
        Para(f"Owner: Daniel Kim, Controller. Effective {ctx.edited(path)}."),
        Heading("Booking"),
        Para(
            "Book all trips through the TravelDesk portal at least 14 days before departure. "
            "International travel needs approval from a VP before booking."
        ),
        Heading("Limits"),
        table(
            ["Expense", "Limit"],
            ["Hotel, standard cities", "$240 per night"],
            ["Hotel, high-cost cities", "$310 per night"],
            ["Meals per diem", "$75 per day"],
            ["Flights under 6 hours", "Economy class"],
            ["Flights over 9 hours", "Business class allowed"],
            ["Personal car mileage", "$0.67 per mile"],
        ),
        Heading("High-cost cities"),
        Para("New York, San Francisco, London, Zurich and Tokyo."),
        Heading("Loyalty programmes"),
        Para("Travellers may keep airline and hotel loyalty points earned on business trips."),
    )


def expense_policy(ctx: Ctx) -> Doc:
    path = f"{F}/policies/expense-policy.md"
    return doc(
        path,
        "Expense Policy",
        Para(f"Owner: Nadia Haddad, Accounts Payable Manager. Effective {ctx.edited(path)}."),
        Heading("Submitting expenses"),
        bullets(
            "Submit expenses in Ledgerly within 30 days of the purchase.",
            "Attach an itemised receipt for anything over $25.",
            "Approved claims are reimbursed within 10 business days.",
        ),
        Heading("Allowances"),
        table(
            ["Item", "Allowance"],
            ["Client entertainment", "$120 per person"],
            ["Home office setup", "$500 one-time"],
            ["Mobile phone", "$60 per month"],
            ["Standard corporate card limit", "$5,000"],
        ),
        Heading("Approval limits"),
        table(
            ["Approver", "Approves claims up to"],
            ["Manager", "$2,500"],
            ["Director", "$10,000"],
            ["VP", "$25,000"],
            ["CFO", "any amount"],
        ),
        Para("Alcohol is not reimbursable except as part of client entertainment."),
    )


def fy_budget(ctx: Ctx) -> Doc:
    path = f"{F}/budget/operating-budget.docx"
    return doc(
        path,
        "Operating Budget",
        Para(
            "Budget owner: Victor Santos, FP&A Lead. The fiscal year starts on 1 February. "
            f"Approved by the board on {ctx.edited(path)}."
        ),
        Heading("Summary"),
        bullets(
            "Total operating budget: $38,600,000.",
            "Total planned headcount: 191.",
            "Contingency reserve: 3% of the operating budget, released by the CFO.",
            "Reforecasts happen quarterly.",
        ),
        Heading("Budget by cost center"),
        table(
            ["Cost center", "Department", "Opex budget", "Headcount"],
            ["CC-1100", "Platform Engineering", "$6,400,000", "38"],
            ["CC-1200", "Routing and Optimization", "$4,900,000", "27"],
            ["CC-1300", "Site Reliability", "$3,150,000", "16"],
            ["CC-2100", "Finance Operations", "$1,720,000", "11"],
            ["CC-2200", "Financial Planning", "$880,000", "5"],
            ["CC-3100", "Sales", "$9,800,000", "44"],
            ["CC-4100", "Customer Success", "$5,250,000", "31"],
            ["CC-5100", "General and Administrative", "$6,500,000", "19"],
        ),
    )


def vendor_contracts(ctx: Ctx) -> Doc:
    path = f"{F}/vendors/vendor-contracts-summary.html"
    f = ctx.fakes
    return doc(
        path,
        "Vendor Contracts Summary",
        Para(f"Maintained by Samuel Adeyemi, Procurement Lead. Last reviewed {ctx.edited(path)}."),
        table(
            ["Vendor", "Service", "Annual value", "Renews in", "Notice", "Internal owner"],
            [
                "Cloudspan Hosting",
                "Cloud infrastructure",
                "$2,340,000",
                "March",
                "90 days",
                "Owen Gallagher",
            ],
            ["PagerBell", "Incident paging", "$48,000", "July", "30 days", "Tomasz Nowak"],
            ["LedgerPoint", "ERP system", "$186,000", "January", "120 days", "Daniel Kim"],
            ["TaxBridge", "Sales tax engine", "$64,500", "October", "60 days", "Grace Liu"],
            [
                "MapTiles Inc",
                "Map data and geocoding",
                "$412,000",
                "June",
                "90 days",
                "Kwame Mensah",
            ],
            [
                "TravelDesk",
                "Corporate travel booking",
                "$22,000",
                "September",
                "30 days",
                "Nadia Haddad",
            ],
            ["Ledgerly", "Expense management", "$37,800", "May", "60 days", "Nadia Haddad"],
        ),
        Heading("Vendor account managers"),
        bullets(
            f"Cloudspan Hosting: Jordan Pike, {f.phone(160)}",
            f"LedgerPoint: Anita Sharma, {f.phone_local(5512)}",
            f"Procurement mailbox: {f.mailbox('procurement')}",
        ),
    )


def cost_centers(ctx: Ctx) -> Doc:
    path = f"{F}/reference/cost-centers.txt"
    return doc(
        path,
        "Cost Centers",
        Para(f"Maintained by Finance Operations. Reviewed {ctx.edited(path)}."),
        table(
            ["Code", "Department", "Budget owner"],
            ["CC-1100", "Platform Engineering", "Priya Raman"],
            ["CC-1200", "Routing and Optimization", "Kwame Mensah"],
            ["CC-1300", "Site Reliability", "Tomasz Nowak"],
            ["CC-2100", "Finance Operations", "Daniel Kim"],
            ["CC-2200", "Financial Planning", "Victor Santos"],
            ["CC-3100", "Sales", "Laura Bennett"],
            ["CC-4100", "Customer Success", "Marcus Reid"],
            ["CC-5100", "General and Administrative", "Margaret Holloway"],
        ),
        Para("New cost centers are requested with form FIN-17 and approved by the Controller."),
    )


def weekly_close_sync(ctx: Ctx) -> Doc:
    path = f"{F}/meetings/weekly-finance-sync.md"
    return doc(
        path,
        "Weekly Finance Sync",
        Para(
            f"Date: {ctx.edited(path, changing=True)}. Chair: Daniel Kim. Attendees: Victor "
            "Santos, Nadia Haddad, Grace Liu, Benjamin Cohen, Chloe Dubois."
        ),
        Heading("Key numbers"),
        bullets(
            "Days sales outstanding: 47 days.",
            "Unreconciled balance sheet accounts: 3.",
            "Overdue receivables above 90 days: $212,400.",
        ),
        Heading("Decisions"),
        bullets(
            "The accrual cut-off for cloud hosting moves to business day 2.",
            "Credit card rebates are booked as a reduction of expense, not as income.",
        ),
        Heading("Action items"),
        bullets(
            "Grace Liu: file the Texas and Ohio sales tax returns by Friday.",
            "Benjamin Cohen: chase the 12 largest overdue invoices.",
        ),
        changing=True,
    )


def close_status(ctx: Ctx) -> Doc:
    path = f"{F}/close/month-end-close-status.html"
    return doc(
        path,
        "Month-end Close Status",
        Para(
            f"Updated {ctx.edited(path, changing=True)}. Close target: business day 6. "
            "Overall status: Amber."
        ),
        table(
            ["Task", "Owner", "Status", "Due"],
            ["Bank reconciliations", "Chloe Dubois", "Complete", "BD2"],
            ["Revenue cut-off review", "Benjamin Cohen", "In progress", "BD3"],
            ["AP accruals", "Nadia Haddad", "Complete", "BD2"],
            ["Payroll journal", "Chloe Dubois", "Complete", "BD1"],
            ["Intercompany eliminations", "Daniel Kim", "Not started", "BD5"],
            ["Flash P&L to the CFO", "Victor Santos", "Blocked", "BD4"],
        ),
        Para("The flash P&L is blocked until the revenue cut-off review is finished."),
        changing=True,
    )


def payment_run(ctx: Ctx) -> Doc:
    path = f"{F}/treasury/payment-run-schedule.txt"
    return doc(
        path,
        "Payment Run Schedule",
        Para(f"Updated {ctx.edited(path, changing=True)} by Nadia Haddad."),
        Heading("Next payment run"),
        bullets(
            "Run day: Thursday.",
            "Payments in the batch: 142.",
            "Approved batch total: $418,930.55.",
            "First approver: Nadia Haddad. Second approver: Daniel Kim.",
        ),
        Heading("Rules"),
        bullets(
            "Invoices must be approved by Tuesday 17:00 Eastern to make the run.",
            "Wires above $250,000 need a call-back confirmation and dual authorization.",
        ),
        changing=True,
    )


def audit_findings(ctx: Ctx) -> Doc:
    path = f"{F}/audit/external-audit-findings.pdf"
    return doc(
        path,
        "External Audit Findings",
        Para(
            "Auditor: Harbor and Finch LLP. Opinion: unqualified. Planning materiality: "
            f"$420,000. Report date: {ctx.edited(path)}."
        ),
        Heading("Findings"),
        table(
            ["ID", "Area", "Rating", "Owner", "Fix within"],
            ["AF-01", "Revenue cut-off documentation", "Medium", "Benjamin Cohen", "60 days"],
            ["AF-02", "User access reviews in the ERP", "High", "Daniel Kim", "30 days"],
            ["AF-03", "Vendor master data changes", "Medium", "Nadia Haddad", "45 days"],
            ["AF-04", "Capitalized software tracking", "Low", "Victor Santos", "90 days"],
        ),
        Para("Management responses were submitted to the audit committee chair, Helen Park."),
    )


def purchasing_thresholds(ctx: Ctx) -> Doc:
    path = f"{F}/procurement/purchasing-thresholds.docx"
    password = ctx.fakes.password("docs-procurement-portal")
    return doc(
        path,
        "Purchasing Thresholds",
        Para(f"Owner: Samuel Adeyemi, Procurement Lead. Effective {ctx.edited(path)}."),
        Heading("Thresholds"),
        table(
            ["Purchase amount", "Requirement"],
            ["Under $5,000", "Manager approval, no quotes needed"],
            ["$5,000 to $49,999", "2 competitive quotes"],
            ["$50,000 to $249,999", "3 quotes and procurement review"],
            ["$250,000 and above", "Formal RFP and CFO approval"],
        ),
        Heading("Other rules"),
        bullets(
            "A purchase order is required for anything above $1,000.",
            "Preferred payment terms are Net 45.",
            "Vendors that handle customer data need a security review using form SEC-VR-2.",
        ),
        Heading("Procurement portal"),
        Para("Shared service account for the supplier portal (user nw-procure):"),
        Code(f"password: {password}"),
    )


def erp_integration(ctx: Ctx) -> Doc:
    path = f"{F}/systems/erp-integration-notes.md"
    f = ctx.fakes
    url = f.database_url("docs-erp-db", "erp_sync", "ledger-db.northwind.internal", "ledgerpoint")
    password = f.password("docs-erp-api")
    return doc(
        path,
        "LedgerPoint ERP Integration Notes",
        Para(f"Owner: Daniel Kim. Last updated {ctx.edited(path)}."),
        Heading("Schedule"),
        bullets(
            "The nightly sync starts at 01:30 UTC.",
            "Journals are posted in batches of 2,000 lines.",
            "Processor settlements post to GL account 1150 (payment processor clearing).",
        ),
        Heading("Connector configuration"),
        Code(
            "ledgerpoint:\n"
            "  api_user: nw-integration\n"
            f"  password: {password}\n"
            f"  database_url: {url}\n"
            "  timeout_seconds: 120"
        ),
    )


def revenue_recognition(ctx: Ctx) -> Doc:
    path = f"{F}/policies/revenue-recognition.pdf"
    return doc(
        path,
        "Revenue Recognition Policy",
        Para(
            f"Owner: Benjamin Cohen, Revenue Accounting. Effective {ctx.edited(path)}. "
            "Prepared under ASC 606."
        ),
        Heading("Recognition rules"),
        bullets(
            "Subscription revenue is recognized ratably over the subscription term.",
            "Guided Onboarding fees are recognized when onboarding is completed.",
            "Usage-based tracking fees are recognized in the month of usage.",
        ),
        Heading("Estimates"),
        Para(
            "Standalone selling prices are reviewed once a year. The bad debt reserve is 2% "
            "of receivables more than 90 days past due."
        ),
    )


def chart_of_accounts(ctx: Ctx) -> Doc:
    path = f"{F}/reference/chart-of-accounts.txt"
    return doc(
        path,
        "Chart of Accounts (excerpt)",
        Para(f"Maintained by Daniel Kim. Reviewed {ctx.edited(path)}."),
        table(
            ["Account", "Name", "Type"],
            ["1000", "Cash - operating", "Asset"],
            ["1150", "Payment processor clearing", "Asset"],
            ["1200", "Accounts receivable", "Asset"],
            ["2000", "Accounts payable", "Liability"],
            ["2150", "Accrued expenses", "Liability"],
            ["2400", "Deferred revenue", "Liability"],
            ["4000", "Subscription revenue", "Revenue"],
            ["4100", "Professional services revenue", "Revenue"],
            ["6100", "Cloud hosting expense", "Expense"],
            ["6400", "Travel and entertainment", "Expense"],
        ),
    )


def billing_faq(ctx: Ctx) -> Doc:
    path = f"{F}/billing/billing-operations-faq.md"
    return doc(
        path,
        "Billing Operations FAQ",
        Para(f"Owner: Benjamin Cohen. Last reviewed {ctx.edited(path)}."),
        Heading("When are invoices sent?"),
        Para("Invoices are issued on the 1st of each month with payment terms of Net 30."),
        Heading("What happens when a customer pays late?"),
        Para(
            "A late fee of 1.5% per month applies. Reminder emails go out 3, 7 and 14 days "
            "after the due date, and the account is suspended 45 days after the due date."
        ),
        Heading("Who approves credit notes?"),
        Para("Credit notes above $1,000 need approval from the Billing Operations lead."),
        Heading("Contact"),
        Para(f"{ctx.fakes.mailbox('billing')} or {ctx.fakes.phone(147)}."),
    )


def sales_tax(ctx: Ctx) -> Doc:
    path = f"{F}/tax/sales-tax-rates.html"
    return doc(
        path,
        "Sales Tax Rates for SaaS",
        Para(
            "Owner: Grace Liu, Tax Manager. Rates are applied by the TaxBridge engine. "
            f"Reviewed {ctx.edited(path)}."
        ),
        table(
            ["State", "State rate", "SaaS taxable", "Note"],
            ["Texas", "6.25%", "Yes", "Only 80% of the charge is taxable"],
            ["Ohio", "5.75%", "Yes", "Business use only"],
            ["Washington", "6.5%", "Yes", "Digital automated services"],
            ["New York", "4%", "Yes", "Plus local rates"],
            ["California", "7.25%", "No", "SaaS is exempt"],
        ),
    )


def payroll_calendar(ctx: Ctx) -> Doc:
    path = f"{F}/payroll/payroll-calendar.docx"
    return doc(
        path,
        "Payroll Calendar Rules",
        Para(
            "Payroll is run by Chloe Dubois, Treasury and Payroll Manager, through the "
            f"PayHarbor service. Effective {ctx.edited(path)}."
        ),
        Heading("Pay schedule"),
        table(
            ["Item", "Rule"],
            ["Frequency", "Semi-monthly"],
            ["First payday", "15th of the month"],
            ["Second payday", "Last business day of the month"],
            ["Timesheet cut-off", "5 business days before payday"],
            ["Annual bonus", "Paid with the March payroll"],
        ),
        Para("When a payday falls on a bank holiday, pay is released the business day before."),
    )


def cash_management(ctx: Ctx) -> Doc:
    path = f"{F}/treasury/cash-management-policy.md"
    return doc(
        path,
        "Cash Management Policy",
        Para(f"Owner: Chloe Dubois. Approved {ctx.edited(path)}; reviewed every year."),
        bullets(
            "Minimum operating cash balance: $3,000,000.",
            "Surplus cash is invested only in US Treasury bills maturing within 12 months.",
            "Primary bank: First Harbor Bank.",
            "Payments above $100,000 need two authorized signatories.",
        ),
    )


def cash_forecast(ctx: Ctx) -> Doc:
    path = f"{F}/treasury/cash-forecast.md"
    return doc(
        path,
        "13-Week Cash Forecast",
        Para(f"Prepared by Victor Santos on {ctx.edited(path, changing=True)}."),
        table(
            ["Measure", "Value"],
            ["Opening cash this week", "$14,220,400"],
            ["Projected cash in week 13", "$12,875,000"],
            ["Largest planned outflow", "$585,000 (Cloudspan Hosting, quarterly)"],
            ["Expected customer receipts this week", "$2,930,000"],
        ),
        Para("The forecast stays above the $3,000,000 minimum balance in every week."),
        changing=True,
    )


def finance_docs(ctx: Ctx) -> list[Doc]:
    return [
        price_list(ctx),
        discount_schedule(ctx),
        travel_policy(ctx),
        expense_policy(ctx),
        fy_budget(ctx),
        vendor_contracts(ctx),
        cost_centers(ctx),
        weekly_close_sync(ctx),
        close_status(ctx),
        payment_run(ctx),
        audit_findings(ctx),
        purchasing_thresholds(ctx),
        erp_integration(ctx),
        revenue_recognition(ctx),
        chart_of_accounts(ctx),
        billing_faq(ctx),
        sales_tax(ctx),
        payroll_calendar(ctx),
        cash_management(ctx),
        cash_forecast(ctx),
    ]
