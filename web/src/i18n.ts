import { useSyncExternalStore } from 'react';

export const LANGUAGES = { en: 'English', fr: 'Français', ar: 'العربية' } as const;
export type Lang = keyof typeof LANGUAGES;

const en = {
  appName: 'Tickr', catalog: 'Events', myOrders: 'My orders', organiser: 'Organiser', door: 'Door',
  login: 'Log in', logout: 'Log out', register: 'Create account', language: 'Language',
  search: 'Search events', category: 'Category', city: 'City', from: 'From', to: 'To', any: 'Any',
  apply: 'Apply filters', next: 'Next page', previous: 'First page', noEvents: 'No events match.',
  concert: 'Concert', festival: 'Festival', theatre: 'Theatre', sport: 'Sport', conference: 'Conference', other: 'Other',
  loading: 'Loading…', venue: 'Venue', when: 'When', tickets: 'Tickets', available: '{n} left', soldOut: 'Sold out',
  quantity: 'Quantity of {name}', maxPerOrder: 'At most {n} per order', reserve: 'Reserve tickets',
  pickSome: 'Choose at least one ticket.', loginToBuy: 'Log in to buy tickets.',
  checkout: 'Checkout', holdFor: 'Your tickets are held for {time}', holdExpired: 'Your hold has expired: the tickets were released.',
  card: 'Test card', cardVisa: 'Visa (succeeds)', cardDeclined: 'Declined card', pay: 'Pay {amount}', cancelOrder: 'Release tickets',
  total: 'Total', confirmation: 'Your tickets', print: 'Print tickets', ticketCode: 'Ticket {code}',
  refund: 'Refund this order', refunded: 'Order refunded.', status: 'Status', backToEvents: 'Back to events',
  email: 'E-mail', password: 'Password', name: 'Name', role: 'Account type', buyer: 'Buyer', phone: 'Phone (optional)',
  waitingRoom: 'Waiting room', joinQueue: 'Join the queue', position: 'Your position: {n}', beforeOpening: 'You are in the queue. Places are drawn at random when sales open: arriving earlier does not help.', admitted: 'You are in: choose your tickets.',
  orderLabel: 'Order {id}', noOrders: 'No orders yet.', view: 'View',
  myEvents: 'My events', newEvent: 'New event', title: 'Title', description: 'Description', address: 'Address',
  startsAt: 'Starts', endsAt: 'Ends', timezone: 'Time zone', currency: 'Currency', save: 'Save', publish: 'Publish',
  cancelEvent: 'Cancel event', confirmPublish: 'Publish this event now?', confirmCancel: 'Cancel this event? Every paid order is refunded.',
  confirm: 'Yes, confirm', back: 'No, go back', image: 'Event image', imageFile: 'Choose an image (JPEG, PNG or WebP, up to 5 MB)', upload: 'Upload image',
  ticketTypes: 'Ticket types', addTicketType: 'Add ticket type', price: 'Price (in {currency})', capacity: 'Capacity',
  sales: 'Sales', sold: 'Sold', revenue: 'Revenue', refundedAmount: 'Refunded', salesOverTime: 'Sales over time',
  orders: 'Orders', searchOrders: 'Search by e-mail, name or order id', staff: 'Door staff', addStaff: 'Add staff',
  scanner: 'Scanner', ticketCodeInput: 'Ticket code', checkIn: 'Check in', scanAgain: 'Scan next',
  checkedInCount: '{checkedIn} of {issued} checked in', camera: 'Start camera', ok: 'Checked in',
  alreadyIn: 'Already checked in at {time}', voidTicket: 'Refunded ticket', notThisEvent: 'Not a ticket for this event',
  saved: 'Saved.', edit: 'Edit', draft: 'Draft', published: 'Published', cancelled: 'Cancelled',
  pending: 'Pending', paid: 'Paid', expired: 'Expired', openDoor: 'Open the door scanner',
  err_SOLD_OUT: 'Sorry, not enough tickets are left.', err_QUANTITY_LIMIT: 'That is more tickets than one order may hold.',
  err_SALES_CLOSED: 'Sales are not open for this event.', err_BUYER_LIMIT: 'You have reached the limit of tickets per buyer.',
  err_TOO_MANY_PENDING_ORDERS: 'You already have unpaid orders for this event: pay or release them first.',
  err_ADMISSION_REQUIRED: 'Join the waiting room first.', err_PAYMENT_DECLINED: 'Your card was declined. Try another card.',
  err_PAYMENT_ACTION_REQUIRED: 'Your bank needs to confirm this payment.', err_HOLD_EXPIRED: 'Your hold has expired: the tickets were released.',
  err_ORDER_NOT_PENDING: 'This order can no longer be paid.', err_ORDER_NOT_PAID: 'Only a paid order can be refunded.',
  err_TICKET_USED: 'A ticket of this order was already used: it cannot be refunded.', err_RATE_LIMITED: 'Too many attempts: wait a moment.',
  err_INVALID_CREDENTIALS: 'Wrong e-mail or password.', err_EMAIL_TAKEN: 'An account with that e-mail already exists.',
  err_VALIDATION_FAILED: 'Some fields need attention.', err_UNAUTHENTICATED: 'Please log in again.',
  err_NOT_PUBLISHABLE: 'Add a ticket type and a future date before publishing.', err_EVENT_CANCELLED: 'This event is cancelled.',
  err_CAPACITY_BELOW_SOLD: 'Capacity cannot go below the tickets already sold or held.',
  err_PAYLOAD_TOO_LARGE: 'That image is over 5 MB: choose a smaller one.', err_UNSUPPORTED_MEDIA_TYPE: 'That file is not a JPEG, PNG or WebP image.',
  err_NOT_FOUND: 'Not found.', err_FORBIDDEN: 'Your account may not do this.', err_NO_WAITING_ROOM: 'This event has no waiting room.',
  err_ALREADY_CHECKED_IN: 'Already checked in', err_TICKET_VOID: 'Refunded ticket', err_TICKET_NOT_FOUND: 'Not a ticket for this event',
  err_generic: 'Something went wrong. Try again.',
  yourPhone: 'Your phone', phoneNumber: 'Phone number', sendCode: 'Send a code', smsCode: 'Code from the SMS', verifyPhone: 'Verify',
  codeSent: 'We sent a code to {phone}. It is valid 10 minutes.', phoneVerified: 'Verified: ticket confirmations also come by SMS.',
  phoneUnverified: 'Verify your phone to get ticket confirmations by SMS too.', changePhone: 'Change number',
  err_INVALID_CODE: 'That code is wrong.', err_CODE_EXPIRED: 'That code is no longer valid: send a new one.',
  err_PHONE_ALREADY_VERIFIED: 'This number is already verified.',
};
export type Key = keyof typeof en;

const fr: Record<Key, string> = {
  ...en,
  catalog: 'Événements', myOrders: 'Mes commandes', organiser: 'Organisateur', door: 'Entrée', login: 'Se connecter',
  logout: 'Se déconnecter', register: 'Créer un compte', language: 'Langue', search: 'Rechercher des événements',
  category: 'Catégorie', city: 'Ville', from: 'Du', to: 'Au', any: 'Toutes', apply: 'Filtrer', next: 'Page suivante',
  previous: 'Première page', noEvents: 'Aucun événement ne correspond.', concert: 'Concert', theatre: 'Théâtre',
  conference: 'Conférence', other: 'Autre', loading: 'Chargement…', venue: 'Lieu', when: 'Quand', tickets: 'Billets',
  available: 'Plus que {n}', soldOut: 'Complet', quantity: 'Nombre de billets {name}', maxPerOrder: 'Au plus {n} par commande',
  reserve: 'Réserver', pickSome: 'Choisissez au moins un billet.', loginToBuy: 'Connectez-vous pour acheter.',
  checkout: 'Paiement', holdFor: 'Vos billets sont réservés pendant {time}', holdExpired: 'Votre réservation a expiré : les billets ont été libérés.',
  card: 'Carte de test', cardVisa: 'Visa (acceptée)', cardDeclined: 'Carte refusée', pay: 'Payer {amount}',
  cancelOrder: 'Libérer les billets', confirmation: 'Vos billets', print: 'Imprimer les billets', ticketCode: 'Billet {code}',
  refund: 'Rembourser cette commande', refunded: 'Commande remboursée.', status: 'Statut', backToEvents: 'Retour aux événements',
  email: 'E-mail', password: 'Mot de passe', name: 'Nom', role: 'Type de compte', buyer: 'Acheteur', phone: 'Téléphone (facultatif)',
  waitingRoom: "Salle d'attente", joinQueue: "Rejoindre la file", position: 'Votre position : {n}', beforeOpening: "Vous êtes dans la file. Les places sont tirées au sort à l'ouverture des ventes : arriver plus tôt ne change rien.", admitted: "C'est votre tour : choisissez vos billets.",
  orderLabel: 'Commande {id}', noOrders: 'Aucune commande.', view: 'Voir', myEvents: 'Mes événements', newEvent: 'Nouvel événement',
  title: 'Titre', address: 'Adresse', startsAt: 'Début', endsAt: 'Fin', timezone: 'Fuseau horaire', currency: 'Devise',
  save: 'Enregistrer', publish: 'Publier', cancelEvent: "Annuler l'événement", confirm: 'Oui, confirmer', back: 'Non, revenir',
  imageFile: 'Choisir une image (JPEG, PNG ou WebP, 5 Mo au plus)', image: "Image de l'événement", upload: "Envoyer l'image", ticketTypes: 'Types de billets', addTicketType: 'Ajouter un type de billet',
  price: 'Prix (en {currency})', capacity: 'Capacité', sales: 'Ventes', sold: 'Vendus', revenue: 'Recettes', refundedAmount: 'Remboursé',
  salesOverTime: 'Ventes dans le temps', orders: 'Commandes', staff: "Personnel d'entrée", addStaff: 'Ajouter', scanner: 'Scanner',
  ticketCodeInput: 'Code du billet', checkIn: 'Valider', scanAgain: 'Suivant', checkedInCount: '{checkedIn} sur {issued} entrés',
  camera: 'Activer la caméra', ok: 'Entrée validée', alreadyIn: 'Déjà entré à {time}', voidTicket: 'Billet remboursé',
  notThisEvent: "Ce n'est pas un billet de cet événement", saved: 'Enregistré.', edit: 'Modifier', draft: 'Brouillon', published: 'Publié',
  cancelled: 'Annulé', pending: 'En attente', paid: 'Payée', expired: 'Expirée', openDoor: "Ouvrir le scanner d'entrée",
  err_SOLD_OUT: 'Désolé, il ne reste pas assez de billets.', err_QUANTITY_LIMIT: "C'est plus de billets qu'une commande n'en permet.",
  err_SALES_CLOSED: 'La vente est fermée pour cet événement.', err_PAYMENT_DECLINED: 'Votre carte a été refusée. Essayez-en une autre.',
  err_HOLD_EXPIRED: 'Votre réservation a expiré : les billets ont été libérés.', err_INVALID_CREDENTIALS: 'E-mail ou mot de passe incorrect.',
  err_generic: 'Une erreur est survenue. Réessayez.',
  yourPhone: 'Votre téléphone', phoneNumber: 'Numéro de téléphone', sendCode: 'Envoyer un code', smsCode: 'Code reçu par SMS', verifyPhone: 'Vérifier',
  codeSent: 'Un code a été envoyé au {phone}. Il est valable 10 minutes.', phoneVerified: 'Vérifié : les confirmations arrivent aussi par SMS.',
  phoneUnverified: 'Vérifiez votre téléphone pour recevoir aussi les confirmations par SMS.', changePhone: 'Changer de numéro',
  err_INVALID_CODE: 'Ce code est incorrect.', err_CODE_EXPIRED: "Ce code n'est plus valable : demandez-en un nouveau.",
  err_PHONE_ALREADY_VERIFIED: 'Ce numéro est déjà vérifié.',
};

const ar: Record<Key, string> = {
  ...en,
  appName: 'تكر', catalog: 'الفعاليات', myOrders: 'طلباتي', organiser: 'المنظم', door: 'المدخل', login: 'تسجيل الدخول',
  logout: 'تسجيل الخروج', register: 'إنشاء حساب', language: 'اللغة', search: 'ابحث عن فعالية', category: 'الفئة', city: 'المدينة',
  from: 'من', to: 'إلى', any: 'الكل', apply: 'تطبيق', next: 'الصفحة التالية', previous: 'الصفحة الأولى', noEvents: 'لا توجد فعاليات مطابقة.',
  concert: 'حفلة', festival: 'مهرجان', theatre: 'مسرح', sport: 'رياضة', conference: 'مؤتمر', other: 'أخرى', loading: 'جارٍ التحميل…',
  venue: 'المكان', when: 'الموعد', tickets: 'التذاكر', available: 'متبقي {n}', soldOut: 'نفدت التذاكر', quantity: 'عدد تذاكر {name}',
  maxPerOrder: 'الحد الأقصى {n} لكل طلب', reserve: 'احجز التذاكر', pickSome: 'اختر تذكرة واحدة على الأقل.', loginToBuy: 'سجّل الدخول لشراء التذاكر.',
  checkout: 'الدفع', holdFor: 'تذاكرك محجوزة لمدة {time}', holdExpired: 'انتهى الحجز وأُفرج عن التذاكر.', card: 'بطاقة تجريبية',
  cardVisa: 'فيزا (تنجح)', cardDeclined: 'بطاقة مرفوضة', pay: 'ادفع {amount}', cancelOrder: 'ألغِ الحجز', total: 'المجموع',
  confirmation: 'تذاكرك', print: 'اطبع التذاكر', ticketCode: 'تذكرة {code}', refund: 'استرداد هذا الطلب', refunded: 'تم استرداد الطلب.',
  status: 'الحالة', backToEvents: 'العودة إلى الفعاليات', email: 'البريد الإلكتروني', password: 'كلمة المرور', name: 'الاسم',
  role: 'نوع الحساب', buyer: 'مشترٍ', phone: 'الهاتف (اختياري)', waitingRoom: 'غرفة الانتظار', joinQueue: 'انضم إلى الطابور',
  position: 'ترتيبك: {n}', beforeOpening: 'أنت في الطابور. تُحدَّد الأماكن بالقرعة عند فتح البيع: الوصول مبكرًا لا يغيّر شيئًا.', admitted: 'حان دورك: اختر تذاكرك.', orderLabel: 'الطلب {id}', noOrders: 'لا توجد طلبات بعد.', view: 'عرض',
  myEvents: 'فعالياتي', newEvent: 'فعالية جديدة', title: 'العنوان', description: 'الوصف', address: 'العنوان التفصيلي', startsAt: 'البداية',
  endsAt: 'النهاية', timezone: 'المنطقة الزمنية', currency: 'العملة', save: 'حفظ', publish: 'نشر', cancelEvent: 'إلغاء الفعالية',
  confirm: 'نعم، أؤكد', back: 'لا، رجوع', image: 'صورة الفعالية', imageFile: 'اختر صورة (JPEG أو PNG أو WebP، حتى 5 ميغابايت)', upload: 'رفع الصورة', ticketTypes: 'أنواع التذاكر',
  addTicketType: 'إضافة نوع تذكرة', price: 'السعر (بـ {currency})', capacity: 'السعة', sales: 'المبيعات', sold: 'المباع',
  revenue: 'الإيرادات', refundedAmount: 'المسترد', salesOverTime: 'المبيعات عبر الزمن', orders: 'الطلبات', staff: 'موظفو المدخل',
  addStaff: 'إضافة', scanner: 'الماسح', ticketCodeInput: 'رمز التذكرة', checkIn: 'تسجيل الدخول للفعالية', scanAgain: 'التالي',
  checkedInCount: '{checkedIn} من {issued} دخلوا', camera: 'تشغيل الكاميرا', ok: 'تم الدخول', alreadyIn: 'دخل مسبقًا في {time}',
  voidTicket: 'تذكرة مستردة', notThisEvent: 'ليست تذكرة لهذه الفعالية', saved: 'تم الحفظ.', edit: 'تعديل', draft: 'مسودة',
  published: 'منشورة', cancelled: 'ملغاة', pending: 'قيد الانتظار', paid: 'مدفوع', expired: 'منتهي', openDoor: 'افتح ماسح المدخل',
  err_SOLD_OUT: 'عذرًا، لم يتبق عدد كافٍ من التذاكر.', err_QUANTITY_LIMIT: 'هذا العدد يتجاوز الحد المسموح لطلب واحد.',
  err_SALES_CLOSED: 'البيع غير مفتوح لهذه الفعالية.', err_PAYMENT_DECLINED: 'رُفضت بطاقتك. جرّب بطاقة أخرى.',
  err_HOLD_EXPIRED: 'انتهى الحجز وأُفرج عن التذاكر.', err_INVALID_CREDENTIALS: 'البريد أو كلمة المرور غير صحيحة.',
  err_generic: 'حدث خطأ. حاول مرة أخرى.',
  yourPhone: 'هاتفك', phoneNumber: 'رقم الهاتف', sendCode: 'أرسل رمزًا', smsCode: 'الرمز الوارد في الرسالة', verifyPhone: 'تحقّق',
  codeSent: 'أرسلنا رمزًا إلى {phone}. صالح لمدة 10 دقائق.', phoneVerified: 'تم التحقق: تصلك تأكيدات التذاكر برسالة قصيرة أيضًا.',
  phoneUnverified: 'تحقّق من هاتفك لتصلك تأكيدات التذاكر برسالة قصيرة أيضًا.', changePhone: 'تغيير الرقم',
  err_INVALID_CODE: 'الرمز غير صحيح.', err_CODE_EXPIRED: 'لم يعد هذا الرمز صالحًا: اطلب رمزًا جديدًا.',
  err_PHONE_ALREADY_VERIFIED: 'هذا الرقم تم التحقق منه من قبل.',
};

const DICTS: Record<Lang, Record<Key, string>> = { en, fr, ar };
const STORE = 'tickr.lang';
const listeners = new Set<() => void>();

function isLang(value: string | null | undefined): value is Lang {
  return value === 'en' || value === 'fr' || value === 'ar';
}

function initialLang(): Lang {
  const saved = localStorage.getItem(STORE);
  if (isLang(saved)) return saved;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = tag.slice(0, 2).toLowerCase();
    if (isLang(base)) return base;
  }
  return 'en';
}

let lang: Lang = initialLang();
applyToDocument();

function applyToDocument(): void {
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === 'ar' ? 'rtl' : 'ltr';
}

export function setLang(next: string): void {
  if (!isLang(next)) return;
  lang = next;
  localStorage.setItem(STORE, next);
  applyToDocument();
  listeners.forEach((listener) => listener());
}

export function getLang(): Lang {
  return lang;
}

export function translate(key: Key, vars: Record<string, string | number> = {}): string {
  return DICTS[lang][key].replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? ''));
}

/** The message for a problem document's code, in the chosen language. */
export function problemMessage(code: string | undefined): string {
  const key = `err_${code ?? 'generic'}`;
  return isKey(key) ? translate(key) : translate('err_generic');
}

function isKey(key: string): key is Key {
  return key in en;
}

export function useLang(): Lang {
  return useSyncExternalStore(
    (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    () => lang,
  );
}

export function formatMoney(minor: number, currency: string): string {
  const format = new Intl.NumberFormat(lang, { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  return format.format(minor / 10 ** digits);
}

export function formatDate(iso: string, timeZone?: string): string {
  return new Intl.DateTimeFormat(lang, { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone, timeZoneName: 'short' }).format(new Date(iso));
}

export function formatTime(iso: string): string {
  return new Intl.DateTimeFormat(lang, { hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}
