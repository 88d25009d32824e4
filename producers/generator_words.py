"""The words a generated community writes: its vocabulary, hashtags, reactions, and the spam and
borderline texts (``producers.generator_session`` composes them into posts and comments)."""

WORDS = (
    "garden kettle river lantern meadow copper window bicycle harbor pepper violin thunder "
    "sparrow orchard basket compass marble ladder pillow canyon cedar velvet lemon saddle "
    "anchor ribbon walnut meteor puzzle tunnel glacier falcon cobalt timber crystal quarry "
    "prairie tangle pebble morning evening weekend recipe sketch project draft version pattern "
    "idea question answer notes photo trail route workshop bread soup loaf jar seed soil "
    "bloom sprout frost breeze rain cloud shadow signal engine socket kernel buffer cache "
    "script branch commit patch build tests schema query index table chart map layer "
    "is was looks feels seems works broke grew baked tried fixed found shared learned "
    "planted painted measured tuned wired cleaned folded sanded brewed "
    "quiet bright rusty gentle sturdy curious tiny huge clever odd lovely slow quick warm "
    "cold fresh old new early late steady shiny muddy "
    "today again finally almost really maybe still together outside upstairs nearby "
    "the a my our this that with after before near under over beside"
).split()
TAGS = (
    "gardening sourdough cycling birding chess vinyl knitting photography hiking climbing jazz "
    "boardgames running astronomy coffee woodwork pottery synths kafka clickhouse linux retro "
    "maps poetry baking fermentation mushrooms typography rustlang python"
).split()
REACTIONS = ("like", "love", "laugh", "wow", "clap", "sad", "+1")
MENTION_FORMS = ("cc {}", "What do you think, {}?", "Thanks {} for the idea.", "{} you asked.")

# Spam: every piece fires a distinct entry of the scorer's lexicon (weights 0.4 and 0.3), so a
# text of 3 strong pieces, 2 calls to action, a money offer and a link totals about 2.4: a score
# of 0.91, still 0.55 when the scorer divides by 3 for an author with accepted contributions.
SPAM_STRONG = (
    "Join the best MLM team in town",
    "build a downline that pays you forever",
    "network marketing changed my life",
    "get free leads every single morning",
    "make easy money from your couch",
    "enjoy passive income while you sleep",
    "work from home in your pajamas",
    "be your own boss by Friday",
    "financial freedom is one step away",
    "get rich before summer",
)
SPAM_CALLS = (
    "Click here to start",
    "Visit my site for the details",
    "Join my team",
    "Sign up today",
    "Limited time offer",
    "No experience needed",
    "It is totally risk-free",
)
SPAM_MONEY = ("$500 a day", "$2,000 per week", "$350 a day", "$9,000 per month")
SPAM_DOMAINS = ("quick-leads.example", "cashflow-club.example", "easy-income.example")
SPAM_CONTACT = ("WhatsApp me now.", "Text me for the plan.", "Write to deals@promo-leads.example")
BORDERLINE = (
    "My cousin got pulled into an MLM last spring and the downline pressure wrecked their savings.",
    "Is network marketing just a pyramid scheme with nicer slides? Asking after a weird dinner.",
    "Every passive income course I see is really selling network marketing to the students.",
    "Anyone promising work from home and financial freedom in one message is recruiting.",
)
